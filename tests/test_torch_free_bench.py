"""thcodec.bench.torch_free's report: each runtime's speed is read against torch's of the same
generator and thread count."""

from thcodec.bench.torch_free import report


def test_report_reads_each_runtime_against_torch_of_the_same_row_group():
    stages = {
        2: {
            ("full", "torch (eager)"): (0.200, 0.0),
            ("full", "onnxruntime"): (0.400, 4e-4),
            ("light", "torch (eager)"): (0.100, 0.0),
            ("light", "onnxruntime"): (0.125, 3e-4),
        }
    }
    text = report({"torch": 2.0, "python alone": 0.05}, stages, reps=3)
    assert "| torch | 2000 ms |" in text
    assert "| full | 2 | onnxruntime | 400 ms | 20 | 0.50x | 4.0e-04 |" in text
    assert "| light | 2 | onnxruntime | 125 ms | 64 | 0.80x | 3.0e-04 |" in text
    assert "| light | 2 | torch (eager) | 100 ms | 80 | 1.00x | 0.0e+00 |" in text
