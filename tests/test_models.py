import pytest
import torch

from ampose.data.skeleton import group_adjacency, skeleton_for
from ampose.models import BLOCKS, AMPose, MartinezMLP, PureGCN, PureTransformer, count_parameters
from ampose.models.attention import DropPath
from ampose.models.graph import GraphConv

ALL_VARIANTS = [*BLOCKS, None]


@pytest.mark.parametrize("block", ALL_VARIANTS)
@pytest.mark.parametrize("num_joints", [17, 16])
@pytest.mark.parametrize("depth, dim", [(1, 16), (3, 32)])
def test_output_shapes(block, num_joints, depth, dim):
    net = AMPose(num_joints=num_joints, dim=dim, depth=depth, num_heads=4, block=block)
    y = net(torch.randn(5, num_joints, 2))
    assert y.shape == (5, num_joints, 3)


@pytest.mark.parametrize("num_joints", [17, 16])
def test_baseline_shapes(num_joints):
    x = torch.randn(4, num_joints, 2)
    for net in (PureGCN(num_joints, dim=16, depth=2), PureTransformer(num_joints, dim=16, depth=2, num_heads=2),
                MartinezMLP(num_joints, width=32)):
        assert net(x).shape == (4, num_joints, 3)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_block_contract(name):
    block = BLOCKS[name](dim=8, adjacency=group_adjacency(17))
    x = torch.randn(3, 17, 8)
    assert block(x).shape == x.shape


def test_paper_sized_parameter_count():
    n = count_parameters(AMPose())
    assert 18.0e6 < n < 18.8e6, n  # 18.4 M for depth 5, width 512, MLP ratio 2


def slow_graph_conv(gc: GraphConv, adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Z[b, i] = sum_g sum_j A[g, i, j] * (x[b, j] @ W_g) + bias, with explicit loops."""
    g_count, j_count, _ = adjacency.shape
    w = gc.weight.weight.T.reshape(x.shape[-1], g_count, gc.out_dim)  # (C_in, G, C_out)
    out = torch.zeros(x.shape[0], j_count, gc.out_dim)
    for b in range(x.shape[0]):
        for i in range(j_count):
            for g in range(g_count):
                for j in range(j_count):
                    out[b, i] += adjacency[g, i, j] * (x[b, j] @ w[:, g])
            out[b, i] += gc.bias
    return out


@pytest.mark.parametrize("num_joints", [17, 16])
def test_graph_conv_matches_loop_reference(num_joints):
    torch.manual_seed(0)
    adj = group_adjacency(num_joints)
    gc = GraphConv(6, 5, adj)
    torch.nn.init.normal_(gc.bias)
    x = torch.randn(2, num_joints, 6)
    torch.testing.assert_close(gc(x), slow_graph_conv(gc, adj, x), rtol=1e-5, atol=1e-5)


def hop_distances(num_joints: int) -> torch.Tensor:
    parents = skeleton_for(num_joints).parents
    d = torch.full((num_joints, num_joints), 99)
    d.fill_diagonal_(0)
    for j, p in enumerate(parents):
        if p >= 0:
            d[j, p] = d[p, j] = 1
    for k in range(num_joints):  # Floyd-Warshall
        d = torch.minimum(d, d[:, k : k + 1] + d[k : k + 1, :])
    return d


def changed_joints(net: torch.nn.Module, joint: int, num_joints: int = 17) -> set[int]:
    torch.manual_seed(1)
    x = torch.randn(1, num_joints, 2)
    x2 = x.clone()
    x2[0, joint] += 1.0
    with torch.no_grad():
        diff = (net(x2) - net(x)).abs().amax(-1)[0]
    return set(torch.nonzero(diff > 1e-6).flatten().tolist())


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("joint", [3, 8, 13])
def test_gcn_locality(depth, joint):
    # A pure GCN of `depth` "ours" blocks has 2*depth graph convs: only joints within that many hops move.
    net = PureGCN(17, dim=16, depth=depth).eval()
    hops = 2 * depth
    within = set(torch.nonzero(hop_distances(17)[joint] <= hops).flatten().tolist())
    changed = changed_joints(net, joint)
    assert changed <= within
    assert joint in changed
    assert len(within) < 17  # the test can fail: some joints are out of reach


def test_attention_reaches_every_joint():
    net = AMPose(17, dim=16, depth=1, num_heads=2).eval()
    assert changed_joints(net, 3) == set(range(17))


@pytest.mark.parametrize("factory", [lambda: AMPose(17, dim=32, depth=2, num_heads=4),
                                     lambda: MartinezMLP(17, width=64, dropout=0.0)])
def test_overfits_tiny_batch(factory):
    torch.manual_seed(0)
    net = factory()
    x, y = torch.randn(16, 17, 2), torch.randn(16, 17, 3) * 0.2
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = None
    for _ in range(300):
        loss = torch.nn.functional.mse_loss(net(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02 * first


@pytest.mark.parametrize(
    "kwargs, message",
    [({"depth": 0}, "depth"), ({"dim": -4}, "width"), ({"block": "resnet"}, "unknown GCN block"),
     ({"num_joints": 15}, "num_joints"), ({"dim": 30, "num_heads": 8}, "divisible"),
     ({"block": None, "attention": False}, "no layers"), ({"drop_path": 1.0}, "drop_path"),
     ({"attention": False, "drop_path": 0.1}, "no encoders")],
)
def test_bad_config_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AMPose(**kwargs)


def test_wrong_input_joint_count():
    with pytest.raises(ValueError, match=r"expected input \(B, 17, 2\)"):
        AMPose(17, dim=16, depth=1, num_heads=2)(torch.randn(2, 16, 2))


def test_drop_path_by_hand():
    """Each sample's branch is kept whole (scaled by 1/(1-p)) or dropped whole; eval is identity."""
    torch.manual_seed(0)
    x = torch.randn(4000, 3, 5) + 2.0
    drop = DropPath(0.25)
    y = drop(x)
    kept = (y != 0).flatten(1).all(1)
    assert ((y == 0).flatten(1).all(1) | kept).all()  # all or nothing per sample
    torch.testing.assert_close(y[kept], x[kept] / 0.75)
    assert abs(kept.float().mean().item() - 0.75) < 0.03  # ~ binomial(4000, 0.75): 3 sigma is 0.02
    assert drop.eval()(x) is x


def test_drop_path_schedule_and_eval_equivalence():
    """Stochastic depth rises linearly from 0 (first layer) to drop_path (last); in eval the net
    is the same function as without it, with the same weights (nothing added to the state)."""
    torch.manual_seed(0)
    net = AMPose(17, dim=16, depth=3, num_heads=2, drop_path=0.3)
    rates = [layer[0].drop_path.p for layer in net.layers]
    assert rates == pytest.approx([0.0, 0.15, 0.3])
    plain = AMPose(17, dim=16, depth=3, num_heads=2)
    plain.load_state_dict(net.state_dict())  # same parameters and buffers
    x = torch.randn(8, 17, 2)
    torch.testing.assert_close(net.eval()(x), plain.eval()(x))
    net.train()
    assert not torch.allclose(net(x), plain(x))  # training draws drops


@pytest.mark.parametrize("block", ["ours", "two_residual", "transformer", "convnext"])
def test_bf16_residual_stream(block):
    """bf16_residual keeps the stream between layers in the autocast dtype, and only under autocast:
    in fp32 the two networks are the same function; under bf16 autocast they agree to bf16 rounding."""
    torch.manual_seed(0)
    plain = AMPose(num_joints=17, dim=32, depth=2, num_heads=4, block=block)
    low = AMPose(num_joints=17, dim=32, depth=2, num_heads=4, block=block, bf16_residual=True)
    low.load_state_dict(plain.state_dict())
    x = torch.randn(8, 17, 2)
    assert torch.equal(plain(x), low(x))  # no autocast: nothing changes

    seen: dict[str, list[torch.dtype]] = {"plain": [], "low": []}
    for name, net in (("plain", plain), ("low", low)):
        for layer in net.layers:
            layer.register_forward_hook(lambda m, i, o, name=name: seen[name].append(i[0].dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y_plain, y_low = plain(x), low(x)
    assert seen["plain"] == [torch.float32] * 2  # autocast alone promotes the stream to fp32
    assert seen["low"] == [torch.bfloat16] * 2
    assert (y_low.float() - plain(x)).abs().max() < 0.1 * plain(x).abs().max()
    y_low.float().sum().backward()  # gradients flow through the bf16 stream to the fp32 weights
    assert low.embed.weight.grad is not None and low.embed.weight.grad.dtype == torch.float32
    assert torch.isfinite(y_plain).all()
