"""Plain nn.Module networks, importable without Lightning or Hydra."""

from ampose.models.ampose import AMPose, count_parameters
from ampose.models.baselines import MartinezMLP, PureGCN, PureTransformer
from ampose.models.blocks import BLOCKS

__all__ = ["AMPose", "BLOCKS", "MartinezMLP", "PureGCN", "PureTransformer", "count_parameters"]
