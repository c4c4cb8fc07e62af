"""The benchmark harness behind ``benchmarks/run_benchmarks.py`` (issue 10), one job per module.

* :mod:`.settings`: sizes, batches and step counts of a run (:class:`~.settings.Profile`); the targets, pairs and
  data configs of ``targets.yaml`` and the fix notes of ``notes.yaml``.
* :mod:`.machine`: machine description, dense-matmul throughput, peak memory, FLOP counting.
* :mod:`.data`: the demo configs' pipelines and DataLoaders at the benchmark's sizes.
* :mod:`.models`: the measured algorithms (:class:`~.models.Case`, :class:`~.models.Group`) and their train steps.
* :mod:`.measure`: timing of the groups, method / base pairs, profiles of missed targets, data-loading loops.
* :mod:`.sweeps`: step time against batch size, boxes, local crops and image size, with linear fits.
* :mod:`.plots`: the scaling figure.
* :mod:`.report`: the Markdown report and the output files.
* :mod:`.cli`: one run end to end and the command line.

Timing primitives are shared with the ``bench_*`` scripts through the sibling module ``benchmarks/timing.py``;
``benchmarks`` is on ``sys.path`` when the entry point runs (the benchmarks are scripts, not an installed package).
"""
