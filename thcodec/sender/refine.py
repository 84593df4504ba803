"""Analysis by synthesis on the sender: adjust the key points it sends so that the receiver's
rendering matches the frame.

The detector guesses key points from the frame alone; the sender also has the receiver's
pivot and networks, so it can ask which key points make the receiver draw this frame best.
A few Adam steps on (x, y, Jacobian) minimise the L1 error of the rendered frame plus a
landmark term: the detector run on the rendering should find the points it finds on the
frame (pixel error alone lets the warp trade the face's shape for the hair and background,
which raises PSNR and lowers landmark accuracy). Nothing changes for the receiver: it gets
key points in the usual 8 bytes. Cost: one forward + backward of the receiver per step.
"""

from __future__ import annotations

import torch

from thcodec.models.keypoints import Keypoints
from thcodec.models.talking_head import TalkingHead

LEARNING_RATE = 0.006  # per step, in key-point units ([-1,1] positions, Jacobian entries)
LANDMARK_WEIGHT = 1.0  # weight of the detector-consistency term against the L1 error
BATCH = 10  # frames refined together (memory, not results: frames do not interact)


def refine_keypoints(
    model: TalkingHead, pivot: torch.Tensor, pivot_kp: Keypoints, frames: torch.Tensor, start: Keypoints, steps: int
) -> Keypoints:
    """pivot (1,3,S,S) and its key points as the receiver has them; frames (N,3,S,S) in [0,1];
    start: the detector's key points for frames (the landmark term's target). -> refined key points (N,K), unquantized."""
    if steps <= 0 or frames.shape[0] == 0:
        return start
    parts = [
        _refine(model, pivot, pivot_kp, frames[i : i + BATCH], start.xy[i : i + BATCH], start.jacobian[i : i + BATCH], steps)
        for i in range(0, frames.shape[0], BATCH)
    ]
    return Keypoints(torch.cat([p.xy for p in parts]), torch.cat([p.jacobian for p in parts]))


def _refine(model, pivot, pivot_kp, frames, xy0, jac0, steps) -> Keypoints:
    # The encoder runs in inference mode; autograd needs ordinary tensors.
    with torch.inference_mode(False), torch.enable_grad():
        n = frames.shape[0]
        frames, xy0, jac0 = (t.detach().clone() for t in (frames, xy0, jac0))
        src = pivot.detach().clone().expand(n, -1, -1, -1)
        src_kp = Keypoints(pivot_kp.xy.detach().clone(), pivot_kp.jacobian.detach().clone()).expand(n)
        target_xy = xy0  # where the detector sees the frame's points
        xy, jac = xy0.clone().requires_grad_(True), jac0.clone().requires_grad_(True)
        opt = torch.optim.Adam([xy, jac], lr=LEARNING_RATE)
        for _ in range(steps):
            out = model.animate_unclamped(src, src_kp, Keypoints(xy, jac))
            seen = model.detect_keypoints(out.clamp(0, 1)).xy
            # Per-frame means summed: each frame's step size does not depend on the batch.
            loss = (out - frames).abs().mean(dim=(1, 2, 3)).sum()
            loss = loss + LANDMARK_WEIGHT * (seen - target_xy).abs().mean(dim=(1, 2)).sum()
            xy.grad, jac.grad = torch.autograd.grad(loss, [xy, jac])
            opt.step()
        return Keypoints(xy.detach(), jac.detach())
