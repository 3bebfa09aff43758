"""Built-in hardware backends, declared under the ``ofa_bench.hardware`` entry-point group.

Reach them through :mod:`ofa_bench.plugins.registry` (``create("hardware", "macs")``, or a spec such as
``create_from_spec("hardware", "lut:table=out/lut.yaml")``), not by import.

- :mod:`ofa_bench_hardware.proxies`: ``macs`` and ``params``, analytic costs in millions.
- :mod:`ofa_bench_hardware.linear`: ``macs-linear``, milliseconds from MACs by a fitted line.
- :mod:`ofa_bench_hardware.runners`: ``torch-cpu``, ``torch-cuda``, ``onnxruntime-cpu``, timing subnets.
- :mod:`ofa_bench_hardware.remote`: ``remote``, the same timing on another device through the device
  agent (``python -m ofa_bench_agent``), over :mod:`ofa_bench_hardware.remote_client`.
- :mod:`ofa_bench_hardware.lut`: ``lut``, per-layer lookup tables (ours and OFA's), built with
  :mod:`ofa_bench_hardware.lut_build` from the layers in :mod:`ofa_bench_hardware.layer_grid`.
"""
