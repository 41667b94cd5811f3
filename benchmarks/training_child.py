"""One training run, measured from inside: `python -m benchmarks.training_child ROWS SEED`.

Generates the synthetic rows, then runs `fit_and_evaluate` on them as `parcel-screen train`
does, and prints one JSON line: seconds for each phase and this process's peak RSS. The
training benchmark also samples the process tree from outside (the fit may start workers).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main(argv: list[str]) -> None:
    rows, seed = int(argv[0]), int(argv[1])
    from training.pipeline import synthetic_frame
    from training.train import fit_and_evaluate

    began = time.perf_counter()
    frame = synthetic_frame(rows, seed)
    generated = time.perf_counter()
    result = fit_and_evaluate(frame, random_state=seed % (2**32))
    fitted = time.perf_counter()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    holdout = result.card["metrics"]["holdout"]
    sys.stdout.write(
        json.dumps(
            {
                "rows": len(frame),
                "generate_seconds": round(generated - began, 1),
                "fit_and_evaluate_seconds": round(fitted - generated, 1),
                "peak_rss_mb_self": round(peak_kb / 1024, 1),
                "holdout_roc_auc": round(holdout.get("roc_auc", float("nan")), 4),
                "holdout_average_precision": round(
                    holdout.get("average_precision", float("nan")), 4
                ),
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
