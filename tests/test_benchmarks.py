from helpers import run_command


def test_speed_benchmark_quick_prints_both_systems_and_a_ratio():
    p = run_command(["benchmarks/speed.py", "--quick"], timeout=300)
    assert p.returncode == 0, p.stderr
    assert "two-layer segmentation" in p.stdout and "dehazing" in p.stdout and "x |" in p.stdout
