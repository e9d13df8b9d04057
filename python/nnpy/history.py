"""What Network.fit reports: History, the record of its epochs, and TrainingDiverged, its error
for a step that would have made a weight infinite or NaN."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

__all__ = ["History", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """A training step would have made a weight infinite or NaN; the weights of the last
    finite step are kept."""


@dataclass
class History:
    """What fit recorded, one entry per completed epoch."""
    loss: List[float] = field(default_factory=list)          # training loss (see Network.fit)
    val_loss: List[float] = field(default_factory=list)      # mean loss on `validation`
    val_accuracy: List[float] = field(default_factory=list)  # accuracy on `validation`
    lr: List[float] = field(default_factory=list)            # learning rate of each epoch
    best_epoch: Optional[int] = None   # with patience: the epoch whose weights fit kept
    stopped_early: bool = False        # with patience: fit stopped before `epochs`

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.loss)
