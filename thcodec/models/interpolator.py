"""Key points for the frames between two sent ones (`--interp k`): a correction to the
straight line between them, learned from how faces move.

Input, per missing frame at fraction t in (0, 1) between sent frames A (t=0) and B (t=1):
the key points of A, B and of the sent frames either side of them (P one step before A, N
one step after B; at a segment edge the nearest one stands in), the step k and t. Output:
positions and Jacobians of the missing frame, as linear interpolation plus the network's
correction, so an untrained (zero) last layer is exactly the linear baseline. The receiver
then animates the pivot with them like any other frame.

Why key points and not pixels: the decoded neighbour frames are made from the same pivot by
the same generator, so the only information about the missing frame they hold is their key
points; what linear interpolation misses is the curve of the motion (a jaw that opens and
closes between two sent frames, a nod), which the neighbours' trajectories show.
"""

from __future__ import annotations

import torch
from torch import nn

MAX_STEP = 4
FIELDS = 6  # x, y, J00, J01, J10, J11
SCALE = 10.0  # differences between sent frames are ~0.01-0.1 in model units


class Interpolator(nn.Module):
    def __init__(self, num_kp: int = 10, hidden: int = 256) -> None:
        super().__init__()
        self.num_kp = num_kp
        n_in = num_kp * FIELDS * 3 + 2
        self.net = nn.Sequential(
            nn.Linear(n_in, hidden), nn.GELU(),
            nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, num_kp * FIELDS),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, n: torch.Tensor,
                t: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """p, a, b, n: (B,K,6) key points (xy then the Jacobian, row-major); t, step: (B,).
        -> (B,K,6) key points of the frame at fraction t between a and b."""
        linear = a + t[:, None, None] * (b - a)
        feats = torch.cat([
            ((a - p) * SCALE).flatten(1), ((b - a) * SCALE).flatten(1), ((n - b) * SCALE).flatten(1),
            t[:, None], step[:, None] / MAX_STEP,
        ], dim=1)
        return linear + self.net(feats).view(-1, self.num_kp, FIELDS) / SCALE
