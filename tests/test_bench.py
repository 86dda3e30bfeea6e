"""The benchmark's machinery: timing, thread limits, and the measurements it reports.

Speeds are never asserted (they depend on the machine); what is checked is that the
benchmark measures what it says it measures.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from lnbook import bench, bench_devices


def test_median_seconds_times_one_call_of_a_known_duration(monkeypatch):
    # A fake clock that each call moves on by exactly 2 ms: the answer is known exactly
    # and no real timing (which a busy machine disturbs) enters the test.
    now = [0.0]
    calls = []

    def takes_2ms():
        calls.append(1)
        now[0] += 0.002

    monkeypatch.setattr(bench.time, "perf_counter", lambda: now[0])
    t = bench.median_seconds(takes_2ms, rounds=3, min_round_s=0.005)
    assert t == pytest.approx(0.002, rel=1e-12)
    # One warm-up call; rounds of 1 and 2 calls last < 5 ms, so 4 calls a round: the
    # doubling search (1 + 2 + 4) and then 3 timed rounds of 4.
    assert len(calls) == 1 + (1 + 2 + 4) + 3 * 4
    with pytest.raises(ValueError, match="rounds"):
        bench.median_seconds(takes_2ms, rounds=0)


def test_single_thread_limits_both_pools_and_restores_them(three_torch_threads):
    before = torch.get_num_threads()
    with bench.single_thread():
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert torch.get_num_threads() == before


def test_speed_words_follow_the_ratio():
    assert bench.speed_words(0.5) == "2.0 times faster than"
    assert bench.speed_words(3.0) == "3.0 times slower than"
    assert bench.speed_words(1.05) == "about as fast as"
    # Several runs: a difference only where every run shows it, its size the median's.
    assert bench.speed_words([0.5, 0.4, 0.8]) == "2.0 times faster than"
    assert bench.speed_words([0.5, 0.4, 0.95]) == "about as fast as"
    assert bench.speed_words([1.2, 3.0, 1.5]) == "1.5 times slower than"
    for bad in ([], [1.0, -1.0], "fast"):
        with pytest.raises(ValueError, match="ratio"):
            bench.speed_words(bad)
    with pytest.raises(ValueError, match="positive finite"):
        bench.speed_words(float("nan"))


def test_run_grid_rows_ratios_and_bytes():
    rows = bench.run_grid([(64, 32)], norms=("layer",), passes=("forward", "backward"),
                          rounds=1, compile=False)  # fmt: skip
    impls = {(r["pass"], r["impl"]) for r in rows}
    # Forward: every implementation; backward: those with a backward (not the naive NumPy
    # expression, not out=), and no torch.compile when compile=False.
    assert ("forward", "NumPy, naive") in impls and ("backward", "NumPy, naive") not in impls
    assert ("backward", "NumPy, lnbook") in impls and (
        "backward",
        "NumPy, lnbook, out=",
    ) not in impls
    assert not any("compile" in impl for _, impl in impls)
    for r in rows:
        moved = bench.ARRAYS_MOVED[r["pass"]] * 64 * 32 * 4
        assert r["gbps"] == pytest.approx(moved / r["seconds"] / 1e9)
        assert r["shape"] == "64x32" and r["mib"] == pytest.approx(64 * 32 * 4 / 2**20)
    for pass_ in ("forward", "backward"):
        group = {r["impl"]: r for r in rows if r["pass"] == pass_}
        native = group["PyTorch, F.layer_norm"]["seconds"]
        assert group["PyTorch, F.layer_norm"]["x_native"] == 1.0
        assert all(r["x_native"] == pytest.approx(r["seconds"] / native) for r in group.values())
        # x_copy is the same time measured against the copy: one constant per pass.
        per_copy = {r["seconds"] / r["x_copy"] for r in group.values()}
        assert max(per_copy) == pytest.approx(min(per_copy))
    with pytest.raises(ValueError, match="norms must be among"):
        bench.run_grid([(4, 4)], norms=("batch",))
    with pytest.raises(ValueError, match=r"shapes\[0\]\[1\] must be >= 1, got 0"):
        bench.run_grid([(4, 0)])
    with pytest.raises(ValueError, match=r"shapes\[1\] must be \(N, D\), two sizes, got \(4,\)"):
        bench.run_grid([(4, 4), (4,)])


def test_every_grid_implementation_computes_layer_norm_or_rms_norm():
    # Each runner's output, forward and gradient, against torch's own functions in float64.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16)).astype(np.float32)
    w = rng.uniform(0.5, 1.5, 16).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    dy = rng.standard_normal((8, 16)).astype(np.float32)
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in
         {"x": x, "w": w, "b": b}.items()}  # fmt: skip
    refs = {
        "layer": torch.nn.functional.layer_norm(t["x"], (16,), t["w"], t["b"], bench.EPS),
        "rms": torch.nn.functional.rms_norm(t["x"], (16,), t["w"], bench.EPS),
    }
    for impl in bench.IMPLS:
        if impl.compiled:
            continue  # the same function as the composed one; compiling is slow
        run = (bench._numpy_runner(impl, "forward", x, w, b, dy) if impl.backend == "numpy"
               else bench._torch_runner(impl, "forward", x, w, b, dy, "cpu"))  # fmt: skip
        y = run()
        y = y.numpy() if hasattr(y, "numpy") else y
        np.testing.assert_allclose(
            y, refs[impl.norm].detach().numpy(), atol=2e-5, err_msg=impl.name
        )
        if impl.backend == "torch":
            grads = bench._torch_runner(impl, "forward+backward", x, w, b, dy, "cpu")()
            dy64 = torch.tensor(dy, dtype=torch.float64)
            (dx_ref,) = torch.autograd.grad(refs[impl.norm], t["x"], dy64, retain_graph=True)
            np.testing.assert_allclose(
                grads[0].numpy(), dx_ref.numpy(), atol=1e-4, err_msg=impl.name
            )
    lnbook = next(i for i in bench.IMPLS if i.name == "NumPy, lnbook" and i.norm == "layer")
    dx = bench._numpy_runner(lnbook, "forward+backward", x, w, b, dy)()[0]
    (dx_ref,) = torch.autograd.grad(refs["layer"], t["x"], torch.tensor(dy, dtype=torch.float64))
    np.testing.assert_allclose(dx, dx_ref.numpy(), atol=1e-4)


def test_write_csv_and_the_command_line(tmp_path, capsys):
    path = tmp_path / "out.csv"
    bench.main(["--shapes", "32x16", "--norms", "rms", "--passes", "forward", "--rounds", "1",
                "--no-compile", "--csv", str(path)])  # fmt: skip
    table = capsys.readouterr().out
    assert "rms norm, forward, 32x16 float32" in table and "PyTorch, F.rms_norm" in table
    # chapter 15's fused residual add + layer norm follows the grid (NumPy only: no compile)
    assert "Residual add + layer norm, 32x16 float32" in table and "numpy: unfused" in table
    assert "torch:" not in table
    import csv

    rows = list(csv.DictReader(path.open()))
    assert {r["impl"] for r in rows} == {
        "NumPy, naive", "NumPy, lnbook", "PyTorch, composed ops",
        "PyTorch, lnbook autograd.Function", "PyTorch, F.rms_norm",
    }  # fmt: skip
    assert all(r["torch"] == torch.__version__ and float(r["seconds"]) > 0 for r in rows)
    with pytest.raises(SystemExit):
        bench.main(["--shapes", "32by16"])


def test_the_command_line_without_shapes_times_the_default_ones(tmp_path, capsys, monkeypatch):
    # make bench passes no --shapes: the grid and the fused pair take the defaults.
    monkeypatch.setattr(bench, "DEFAULT_SHAPES", [(24, 8), (40, 16)])
    bench.main(["--norms", "layer", "--passes", "forward", "--rounds", "1", "--no-compile",
                "--csv", str(tmp_path / "out.csv")])  # fmt: skip
    out = capsys.readouterr().out
    assert "24x8 float32" in out and "Residual add + layer norm, 40x16 float32" in out


def test_copy_bandwidth_balance_and_correction_report_positive_numbers():
    bw = bench.copy_bandwidth((0.25, 1), rounds=1)
    assert bw["mib"].tolist() == [0.25, 1.0] and (bw["gbps"] > 0).all()
    bal = bench.machine_balance((64, 64), rounds=1)
    assert bal["ridge"] == pytest.approx(bal["matmul_gflops"] / bal["copy_gbps"])
    c = bench.correction_cost((64, 64), rounds=1)
    assert set(c) == {"offset_corrected", "offset_uncorrected", "plain_corrected",
                      "plain_uncorrected"} and min(c.values()) > 0  # fmt: skip
    with pytest.raises(ValueError, match="positive"):
        bench.copy_bandwidth((0,))


def test_copy_bandwidth_sizes_take_turns_and_each_speed_is_its_rounds_median(monkeypatch):
    # A slow spell falls on every size alike: round by round, not size after size.
    timed = []
    slow = iter([1.0, 2.0, 9.0, 2.0, 3.0, 2.0])  # seconds per copy, in the order timed

    def fake(x, rounds):
        assert rounds == 1
        timed.append(x.nbytes)
        return next(slow)

    monkeypatch.setattr(bench, "copy_seconds", fake)
    bw = bench.copy_bandwidth((0.25, 1), rounds=3)
    quarter, one = 2**18, 2**20
    assert timed == [quarter, one] * 3
    # medians 3.0 s (1, 9, 3) and 2.0 s: bytes read and written over the median time
    np.testing.assert_allclose(bw["gbps"], [2 * quarter / 3.0 / 1e9, 2 * one / 2.0 / 1e9])
    with pytest.raises(ValueError, match="rounds must be an int >= 1"):
        bench.copy_bandwidth((1,), rounds=0)


def test_median_seconds_synchronizes_around_each_round_not_each_call(monkeypatch):
    # A GPU's work is waited for at the start and end of a round: a sync per call would
    # add a round trip to the GPU to every call's time.
    now, log = [0.0], []

    def call():
        log.append("call")
        now[0] += 0.002

    monkeypatch.setattr(bench.time, "perf_counter", lambda: now[0])
    bench.median_seconds(call, rounds=2, min_round_s=0.005, sync=lambda: log.append("sync"))
    rounds = "".join("|" if e == "sync" else "c" for e in log[1:]).split("||")
    # the doubling rounds of 1, 2, 4 calls, then 2 timed rounds of 4, each between two syncs
    assert [r.strip("|") for r in rounds] == ["c", "cc", "cccc", "cccc", "cccc"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine with CUDA runs the GPU grid")
def test_device_cuda_without_cuda_exits_with_a_message(capsys):
    for device, words in (("cuda", "needs an NVIDIA GPU"), ("tpu", "cpu, cuda or cuda:N")):
        with pytest.raises(SystemExit) as stop:
            bench.main(["--device", device])
        assert stop.value.code == 1  # an exit with a sentence, not an exception
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err


def test_triton_row_is_listed_as_skipped_without_a_gpu(tmp_path, capsys, monkeypatch):
    from lnbook import triton_ln

    if triton_ln.available():
        pytest.skip("this machine runs the Triton kernel")
    path = tmp_path / "out.csv"
    bench.main(["--shapes", "16x8", "--norms", "layer", "--passes", "forward", "--rounds", "1",
                "--no-compile", "--csv", str(path)])  # fmt: skip
    out, err = capsys.readouterr()
    assert "Triton, lnbook kernel" in out and "skipped: runs on a CUDA GPU only" in out
    assert "Skipped Triton, lnbook kernel" in err
    rows = {r["impl"]: r for r in bench_devices.read_results(path)}
    triton = rows["Triton, lnbook kernel"]
    assert np.isnan(triton["seconds"]) and "--device cuda" in triton["skipped"]
    assert rows["PyTorch, F.layer_norm"]["skipped"] == "" and rows["NumPy, lnbook"]["seconds"] > 0
    assert {"cuda", "triton", "date"} <= set(triton) and triton["device"] == "cpu"
    # On a GPU without triton the reason is available()'s own.
    impl = bench.KERNEL_IMPLS[0]
    monkeypatch.setattr(triton_ln, "available", lambda: triton_ln.Availability(False, "why"))
    assert bench.skip_reason(impl, "cuda") == "why"
    monkeypatch.setattr(triton_ln, "available", lambda: triton_ln.Availability(True))
    assert bench.skip_reason(impl, "cuda") == "" and bench.skip_reason(impl, "cpu")


def test_stored_gpu_results_are_shown_with_their_device_and_date_or_said_to_be_missing(tmp_path):
    path = tmp_path / "bench_cuda.csv"
    assert bench_devices.read_results(path) is None
    assert "none were measured" in bench_devices.results_markdown(path)
    # A CSV as a GPU run writes it (write_csv's columns and machine_info's).
    machine = {**bench_devices.machine_info("cpu"), "device": "NVIDIA H100 80GB HBM3",
               "cuda": "13.0", "triton": "3.7.1", "date": "2027-01-02"}  # fmt: skip
    ran = {"shape": "16384x4096", "mib": 256.0, "norm": "layer", "pass": "forward",
           "impl": "PyTorch, F.layer_norm", "seconds": 0.000201, "gbps": 2671.1, "x_copy": 1.25,
           "x_native": 1.0, "compile_s": float("nan"), "faults": 0.0, "skipped": ""}  # fmt: skip
    skipped = {**ran, "impl": "Triton, lnbook kernel", "seconds": float("nan"), "skipped": "why"}
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*bench_devices.CSV_COLUMNS, *machine])
        writer.writeheader()
        writer.writerows([{**ran, **machine}, {**skipped, **machine}])
    rows = bench_devices.read_results(path)
    assert rows[0]["seconds"] == 0.000201 and np.isnan(rows[1]["seconds"])
    text = bench_devices.results_markdown(path)
    assert "**NVIDIA H100 80GB HBM3** on 2027-01-02" in text and "CUDA 13.0" in text
    assert "| 16384x4096 | layer | forward | PyTorch, F.layer_norm | 0.201 | 2671 | 1.25 |" in text
    assert "| Triton, lnbook kernel | skipped: why |" in text and "none were" not in text
    assert bench_devices.device_problem("cpu") == "" and bench_devices.device_sync("cpu")() is None


def test_page_faults_and_correction_cost_name_their_bad_arguments():
    with pytest.raises(ValueError, match="calls must be >= 1, got 0"):
        bench.page_faults(lambda: None, calls=0)
    with pytest.raises(ValueError, match=r"shape must be \(N, D\), two sizes, got \(1024,\)"):
        bench.correction_cost((1024,))
    with pytest.raises(TypeError, match=r"shape\[1\] must be an int, got float"):
        bench.correction_cost((8, 2.5))
