"""GCN block variants of the paper's Table 4. Each maps (B, J, C) -> (B, J, C).

Every block is built as ``Block(dim=C, adjacency=A, dropout=p)``; Hydra passes them into the
network as ``_partial_: true`` factories, so a new variant is one file plus one YAML.
"""

from ampose.models.blocks.convnext import ConvNeXtBlock
from ampose.models.blocks.ours import OursBlock
from ampose.models.blocks.transformer import GraphTransformerBlock
from ampose.models.blocks.two_residual import TwoResidualBlock

BLOCKS = {
    "ours": OursBlock,
    "two_residual": TwoResidualBlock,
    "transformer": GraphTransformerBlock,
    "convnext": ConvNeXtBlock,
}

__all__ = ["BLOCKS", "ConvNeXtBlock", "GraphTransformerBlock", "OursBlock", "TwoResidualBlock"]
