"""ofa-bench's device agent: times ONNX models on the device it runs on, for a host running ofa-bench.

A hardware team's device (a phone board, a Raspberry Pi, a Jetson) is rarely the machine that runs
the search. The agent runs there with only Python, numpy and onnxruntime installed (it imports
nothing of ofa-bench's core, nor torch), receives ONNX models from the host (whole sub-networks, or
the single layers a lookup table needs), times them with the runners' interleaved protocol
(:mod:`ofa_bench_agent.timing`) and answers the timings and a description of the device. On the host,
the ``remote`` runner (:mod:`ofa_bench_hardware.remote`) talks to it::

    python -m ofa_bench_agent --host 127.0.0.1 --port 8765 [--token-file FILE]

- :mod:`ofa_bench_agent.protocol`: the HTTP protocol, shared with the host.
- :mod:`ofa_bench_agent.server`: the bounded server and what each request does.
- :mod:`ofa_bench_agent.onnx_check`: models with external data are refused before loading.
- :mod:`ofa_bench_agent.device`: the device's description and the ONNX Runtime session settings.
- :mod:`ofa_bench_agent.timing`: the timing core every runner of ofa-bench uses.

See docs/hardware.md, "Measuring on another device", and docs/security.md.
"""

__version__ = "0.1.0"
