"""Plain nn.Module networks, importable without Lightning or Hydra."""

from ampose.models.ampose import AMPose, count_parameters
from ampose.models.baselines import MartinezMLP, PureGCN, PureTransformer
from ampose.models.blocks import BLOCKS
from ampose.models.ensemble import MeanOf

__all__ = ["AMPose", "BLOCKS", "MartinezMLP", "MeanOf", "PureGCN", "PureTransformer", "count_parameters"]
