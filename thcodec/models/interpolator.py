"""Key points for the frames between two sent ones (`--interp k`): a curve through the sent
key points, corrected by a small network that learned how faces move.

Input, per missing frame at fraction t in (0, 1) between sent frames A (t=0) and B (t=1):
the key points of A, B and of the sent frames either side of them (P one step before A, N
one step after B; at a segment edge the nearest one stands in), the step k and t. The base
is the Catmull-Rom spline through P, A, B, N (it follows a motion's curve where a straight
line cuts it); a per-point network, shared by the ten points, adds a correction, and its
last layer starts at zero, so an untrained network is exactly the spline. The receiver
then animates the pivot with them like any other frame.

Why key points and not pixels: the decoded neighbour frames are made from the same pivot by
the same generator, so the only information about the missing frame they hold is their key
points; what a straight line misses is the curve of the motion (a jaw that opens and
closes between two sent frames, a nod), which the neighbours' trajectories show.
"""

from __future__ import annotations

import torch
from torch import nn

MAX_STEP = 4
FIELDS = 6  # x, y, J00, J01, J10, J11
SCALE = 10.0  # differences between sent frames are ~0.01-0.1 in model units


def catmull_rom(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, n: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The uniform Catmull-Rom spline through p, a, b, n at fraction t between a and b."""
    t = t[:, None, None]
    return 0.5 * (2 * a + (b - p) * t + (2 * p - 5 * a + 4 * b - n) * t**2 + (3 * a - p - 3 * b + n) * t**3)


class Interpolator(nn.Module):
    def __init__(self, num_kp: int = 10, hidden: int = 64) -> None:
        super().__init__()
        self.num_kp = num_kp
        self.net = nn.Sequential(
            nn.Linear(FIELDS * 3 + 2, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, FIELDS),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(
        self, p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, n: torch.Tensor, t: torch.Tensor, step: torch.Tensor
    ) -> torch.Tensor:
        """p, a, b, n: (B,K,6) key points (xy then the Jacobian, row-major); t, step: (B,).
        -> (B,K,6) key points of the frame at fraction t between a and b."""
        k = a.shape[1]
        feats = torch.cat(
            [
                (a - p) * SCALE,
                (b - a) * SCALE,
                (n - b) * SCALE,
                t[:, None, None].expand(-1, k, 1),
                (step / MAX_STEP)[:, None, None].expand(-1, k, 1),
            ],
            dim=-1,
        )
        return catmull_rom(p, a, b, n, t) + self.net(feats) / SCALE
