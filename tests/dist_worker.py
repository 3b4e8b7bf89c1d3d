"""One rank of the distributed tests (`test_distributed.py`): ``dist_worker.py SCENARIO FOLDER``.

Started by `dist_helpers.start` with torchrun's environment; runs the scenario inside
`methods.distributed.session` as the CLI does and exits with the CLI's statuses
(0 done, 2 error, 3 stopped by another rank's error, 130 cancelled).
"""
from __future__ import annotations

import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from toys import TinyConvGenerator  # noqa: E402

from methods import distributed, ganspace, latentclr, pca  # noqa: E402
from methods.jobs import Cancelled, MethodError  # noqa: E402

torch.set_num_threads(1)

#: LatentCLR with conditional linear directions: no BatchNorm, so ranks reproduce one process to rounding.
#: A batch of 7 splits unevenly (4 + 3) over two ranks.  Fixed learning-rate milestones: runs that
#: continue with more iterations keep the schedule (the default moves with the iteration count).
CLR = latentclr.LatentCLRConfig(direction_model="linear", components=3, batch=7, iterations=1, lr=0.05, tau=0.5,
                                lr_milestones="3,12", log_every=5, checkpoint_every=5)


#: GANSpace of the tiny generator's 512-wide ``fc`` layer: 600 samples split 300 + 300, batches of 70
#: (five rounds per rank, the last short).
GANSPACE = ganspace.GANSpaceConfig(layer="fc", samples=600, components=4, batch=70, regression_samples=310)


def ganspace_runs(G, tag: str = "") -> dict:
    """The three estimators on ``G``: exact covariance, exact SVD (forced by a narrower limit), incremental."""
    out = {"exact-covariance": ganspace.discover(G, GANSPACE),
           "incremental": ganspace.discover(G, replace(GANSPACE, estimator="incremental"))}
    saved = pca.COVARIANCE_MAX_DIM_CPU
    pca.COVARIANCE_MAX_DIM_CPU = 100  # 512 > 100: the SVD of the 600 kept rows
    try:
        out["exact-svd"] = ganspace.discover(G, GANSPACE)
    finally:
        pca.COVARIANCE_MAX_DIM_CPU = saved
    return out


def export_frames(G, cs, folder: Path | None = None):
    """A 21-frame sweep (rounds of 8 + 8, then 5 + 0), a 5-seed grid and an mp4 of the sweep (into ``folder``)."""
    from editing.export import export_sweep_video, grid_image, sweep_frames, sweep_values
    from editing.state import EditState

    state = EditState(model="tiny", seed=2).with_controls(cs)
    frames = list(sweep_frames(G, state, 0, sweep_values(-2, 2, 21)))
    grid = grid_image(G, state, [3, 4, 5, 6, 7], 3)
    if folder is not None:
        export_sweep_video(G, state, 0, -2, 2, 21, 12, folder / "sweep.mp4")
    return frames, grid


def train(world, folder: Path) -> None:
    """LatentCLR one step into ``job/`` (its checkpoint kept as ``one_step.pt``), then on to 20 iterations;
    GANSpace with each estimator; frames of a sweep and a grid."""
    G = TinyConvGenerator()
    job = folder / "job"
    latentclr.discover(G, replace(CLR, job_dir=str(job)))
    if world.main:
        shutil.copy(job / "checkpoint.pt", folder / "one_step.pt")
    cs = latentclr.discover(G, replace(CLR, job_dir=str(job), iterations=20))
    if world.main:
        cs.save(folder / "twenty.npz")
    for name, result in ganspace_runs(G).items():
        if world.main:
            result.save(folder / f"ganspace-{name}.npz")
    frames, grid = export_frames(G, ganspace.discover(G, GANSPACE), folder)
    if world.main:
        np.save(folder / "sweep.npy", np.stack(frames))
        np.save(folder / "grid.npy", grid)
    else:
        assert frames == [] and grid is None, "only rank 0 assembles frames"


def fail(world, folder: Path) -> None:
    """Rank 1 raises at iteration 3 of a long run; rank 0 would go on for minutes."""
    G = TinyConvGenerator()

    def progress(_f: float, message: str) -> None:
        if world.rank == 1 and message.startswith("iteration 3/"):
            (folder / "raised").write_text(str(time.time()))
            raise MethodError("the test's rank 1 failed on purpose")

    latentclr.discover(G, replace(CLR, iterations=100_000), progress)


def cancel(world, folder: Path) -> None:
    """A long run with a job folder; rank 0 says when it is under way (the test then signals it)."""
    G = TinyConvGenerator()

    def progress(_f: float, message: str) -> None:
        if world.main and message.startswith("iteration 3/"):
            (folder / "started").write_text("")

    latentclr.discover(G, replace(CLR, iterations=100_000, job_dir=str(folder / "job")), progress)


SCENARIOS = {"train": train, "fail": fail, "cancel": cancel}


def main(scenario: str, folder: str) -> int:
    try:
        with distributed.session("cpu") as world:
            SCENARIOS[scenario](world, Path(folder))
    except Cancelled:
        sys.stderr.write("cancelled\n")
        return 130
    except distributed.PeerFailed as exc:
        sys.stderr.write(f"error: {exc}\n")
        return distributed.EXIT_PEER_FAILED
    except MethodError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
