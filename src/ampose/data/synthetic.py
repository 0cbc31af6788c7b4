"""Synthetic Human3.6M: plausible motion written in exactly the field's file layouts.

The embedded default dataset, so training and tests run on a fresh machine through the same
code path as the real files: `data_3d_h36m.npz` (32 joints, world metres), the exact
ground-truth projection `data_2d_h36m_gt.npz`, and a CPN-like noisy
`data_2d_h36m_cpn_ft_h36m_dbb.npz` whose sequences run a few frames past the mocap.

Poses come from forward kinematics of the 17-joint skeleton with per-subject bone lengths
measured on the real data, joint angles clipped to anatomical ranges, and smooth motion
families standing in for the 15 actions; the root moves inside the capture area so that every
joint projects inside the image of the real cameras.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ampose.data import h36m
from ampose.data.actions import ACTIONS
from ampose.data.cameras import h36m_cameras
from ampose.data.skeleton import H36M17, H36M32_TO_17

log = logging.getLogger(__name__)

FPS = 50
FRAMES = (100, 160)  # sequence length range; ~80 k training samples at stride 1
TAKES = ("", " 1")  # two takes per action, keyed like the real files ("Photo", "Photo 1")

# Mean bone lengths (m) per subject, measured once from the real Human3.6M 3D positions
# (all frames of all actions; bone lengths are constant within a subject to < 0.1 mm):
# hip (root->hip), thigh, shin, spine (root->spine), thorax, neck (thorax->nose), head (nose->head),
# shoulder (thorax->shoulder), upper arm, forearm.
BONES: dict[str, tuple[float, ...]] = {
    "S1": (0.133, 0.443, 0.454, 0.233, 0.257, 0.121, 0.115, 0.151, 0.279, 0.252),
    "S5": (0.119, 0.428, 0.442, 0.224, 0.254, 0.117, 0.115, 0.143, 0.265, 0.249),
    "S6": (0.143, 0.487, 0.461, 0.262, 0.260, 0.119, 0.115, 0.149, 0.301, 0.258),
    "S7": (0.136, 0.449, 0.438, 0.226, 0.255, 0.107, 0.115, 0.140, 0.276, 0.247),
    "S8": (0.147, 0.452, 0.439, 0.261, 0.251, 0.120, 0.115, 0.169, 0.290, 0.244),
    "S9": (0.124, 0.472, 0.469, 0.256, 0.250, 0.121, 0.115, 0.183, 0.296, 0.249),
    "S11": (0.138, 0.462, 0.460, 0.254, 0.250, 0.111, 0.115, 0.166, 0.283, 0.248),
}
# Capture area (world metres) where the real roots stay: centre and walking radius.
CENTRE = np.array([0.2, 0.4])
ANKLE_HEIGHT = 0.07  # real ankle joints rest ~5-7 cm above the floor

# Anatomical ranges (degrees) the generated angles are clipped to.
LIMITS: dict[str, tuple[float, float]] = {
    "hip_flex": (-30, 125), "hip_abd": (-15, 45), "hip_rot": (-30, 30), "knee": (0, 150),
    "spine_flex": (-25, 60), "spine_lat": (-25, 25), "spine_twist": (-35, 35),
    "neck_flex": (-40, 50), "neck_yaw": (-60, 60),
    "sh_flex": (-50, 170), "sh_abd": (-10, 160), "sh_rot": (-60, 90), "elbow": (0, 150),
    "pelvis_pitch": (-20, 40), "pelvis_roll": (-15, 15),
}
SIDED = ("hip_flex", "hip_abd", "hip_rot", "knee", "sh_flex", "sh_abd", "sh_rot", "elbow")


# ------------------------------------------------------------------------------------ geometry

def _rot(axis: int, a: np.ndarray) -> np.ndarray:
    """(T,) angles (rad) -> (T, 3, 3) rotations about axis 0/1/2 (x forward, y left, z up)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    if axis == 0:
        m = [[o, z, z], [z, c, -s], [z, s, c]]
    elif axis == 1:
        m = [[c, z, s], [z, o, z], [-s, z, c]]
    else:
        m = [[c, -s, z], [s, c, z], [z, z, o]]
    return np.moveaxis(np.array(m), (0, 1), (-2, -1))  # (3, 3, T) -> (T, 3, 3)


def _offsets(b: tuple[float, ...]) -> np.ndarray:
    """Rest offsets (17, 3) of each joint from its parent in the body frame (x fwd, y left, z up)."""
    hip, thigh, shin, spine, thorax, neck, head, shoulder, upper, fore = b
    unit = lambda v: np.asarray(v, float) / np.linalg.norm(v)  # noqa: E731
    off = np.zeros((17, 3))
    off[1], off[4] = (0, -hip, 0), (0, hip, 0)
    off[2] = off[5] = (0, 0, -thigh)
    off[3] = off[6] = (0, 0, -shin)
    off[7], off[8] = (0, 0, spine), (0, 0, thorax)
    off[9] = unit([0.4, 0, 0.92]) * neck  # nose: forward and up from the thorax
    off[10] = unit([-0.4, 0, 0.92]) * head  # head: back over the thorax
    off[11], off[14] = unit([-0.05, 1, -0.1]) * shoulder, unit([-0.05, -1, -0.1]) * shoulder
    off[12] = off[15] = (0, 0, -upper)
    off[13] = off[16] = (0, 0, -fore)
    return off


def _local_rotations(ang: dict[str, np.ndarray], yaw: np.ndarray) -> list[np.ndarray]:
    """Per-joint local rotations (T, 3, 3) from the angle channels (degrees)."""
    d = {k: np.deg2rad(v) for k, v in ang.items()}
    eye = np.broadcast_to(np.eye(3), (len(yaw), 3, 3))
    r = [eye] * 17
    r[0] = _rot(2, yaw) @ _rot(1, d["pelvis_pitch"]) @ _rot(0, d["pelvis_roll"])
    for side, hip, knee, sh, elbow, sgn in (("R", 1, 2, 14, 15, -1), ("L", 4, 5, 11, 12, 1)):
        # flexion swings the limb forward (-y rotation), abduction away from the midline
        r[hip] = _rot(1, -d["hip_flex" + side]) @ _rot(0, sgn * d["hip_abd" + side]) @ _rot(2, -sgn * d["hip_rot" + side])
        r[knee] = _rot(1, d["knee" + side])  # the shin folds backward
        r[sh] = _rot(1, -d["sh_flex" + side]) @ _rot(0, sgn * d["sh_abd" + side]) @ _rot(2, -sgn * d["sh_rot" + side])
        r[elbow] = _rot(1, -d["elbow" + side])  # the forearm folds forward (toward the midline when rotated in)
    r[7] = _rot(2, d["spine_twist"]) @ _rot(1, d["spine_flex"]) @ _rot(0, d["spine_lat"])
    r[9] = _rot(2, d["neck_yaw"]) @ _rot(1, d["neck_flex"])
    return r


def forward_kinematics(ang: dict[str, np.ndarray], yaw: np.ndarray, bones: tuple[float, ...]) -> np.ndarray:
    """Root-relative joint positions (T, 17, 3), world axes (z up), from angles and facing yaw."""
    off = _offsets(bones)
    rot = _local_rotations(ang, yaw)
    t = len(yaw)
    glob: list[np.ndarray] = [np.eye(3)] * 17
    pos = np.zeros((t, 17, 3))
    for j, p in enumerate(H36M17.parents):
        if p < 0:
            glob[j] = rot[0]
            continue
        pos[:, j] = pos[:, p] + glob[p] @ off[j]
        glob[j] = glob[p] @ rot[j]
    return pos


def to_32_joints(x17: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """(T, 17, 3) -> (T, 32, 3) in the mocap layout; the 15 extra joints (toes, hands, duplicates)
    are placed at their real offsets so the file matches the real one (the loader drops them)."""
    t = len(x17)
    x = np.zeros((t, 32, 3))
    x[:, list(H36M32_TO_17)] = x17
    fwd = np.stack([np.cos(yaw), np.sin(yaw), np.zeros(t)], -1)  # (T, 3)
    for foot, toe in ((3, 4), (8, 9)):
        x[:, toe] = x[:, foot] + 0.15 * fwd - [0, 0, 0.045]
        x[:, toe + 1] = x[:, toe] + 0.075 * fwd
    x[:, 11], x[:, 16], x[:, 24] = x[:, 0], x[:, 13], x[:, 13]
    for elbow, wrist, base in ((18, 19, 20), (26, 27, 28)):
        along = x[:, wrist] - x[:, elbow]
        along /= np.linalg.norm(along, axis=-1, keepdims=True)
        x[:, base] = x[:, wrist]
        x[:, base + 1] = x[:, wrist] + 0.1 * along
        x[:, base + 2] = x[:, wrist] + 0.08 * along + 0.06 * fwd
        x[:, base + 3] = x[:, base + 2]
    return x


# ------------------------------------------------------------------------------------- motion

def _smooth(rng: np.random.Generator, t: np.ndarray, amp: float, fmax: float = 0.5) -> np.ndarray:
    """Band-limited random signal (sum of 3 sinusoids below fmax Hz), unit-ish amplitude x amp."""
    out = np.zeros_like(t)
    for _ in range(3):
        out += np.sin(2 * np.pi * rng.uniform(0.05, fmax) * t + rng.uniform(0, 2 * np.pi))
    return amp * out / np.sqrt(1.5)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def _standing(rng: np.random.Generator, t: np.ndarray, style: float) -> dict[str, np.ndarray]:
    """Idle standing with weight shifts: the base every action family modifies."""
    sway = _smooth(rng, t, 1.0, 0.3)
    a = {"pelvis_pitch": 3 + _smooth(rng, t, 2), "pelvis_roll": 3 * sway,
         "spine_flex": 4 + _smooth(rng, t, 3), "spine_lat": -2 * sway, "spine_twist": _smooth(rng, t, 5),
         "neck_flex": 5 + _smooth(rng, t, 6), "neck_yaw": _smooth(rng, t, 15, 0.4)}
    for side, s in (("R", 1), ("L", -1)):
        a["hip_flex" + side] = 3 + _smooth(rng, t, 3)
        a["hip_abd" + side] = 5 + s * 3 * sway
        a["hip_rot" + side] = 5 + _smooth(rng, t, 3)
        a["knee" + side] = 6 + np.maximum(0, s * 8 * sway) + _smooth(rng, t, 2)
        a["sh_flex" + side] = 5 + _smooth(rng, t, 6 * style)
        a["sh_abd" + side] = 8 + _smooth(rng, t, 3)
        a["sh_rot" + side] = 10 + _smooth(rng, t, 5)
        a["elbow" + side] = 15 + _smooth(rng, t, 8 * style)
    return a


def _gesture(rng: np.random.Generator, t: np.ndarray, lo: float, hi: float, fmax: float) -> np.ndarray:
    """A smooth gesture signal moving between lo and hi."""
    return lo + (hi - lo) * 0.5 * (1 + np.tanh(_smooth(rng, t, 1.2, fmax)))


def _walk(rng: np.random.Generator, t: np.ndarray, a: dict, speed: float, swing: float) -> tuple:
    """Gait: hips and knees in anti-phase, arms swinging against the legs; returns angles and speed."""
    cadence = rng.uniform(0.85, 1.0) * (0.6 + 0.35 * speed)  # gait cycles per second
    phase = 2 * np.pi * cadence * t + rng.uniform(0, 2 * np.pi)
    for side, off in (("R", 0.0), ("L", np.pi)):
        ph = phase + off
        a["hip_flex" + side] = 8 + 24 * speed * np.sin(ph)
        a["knee" + side] = 8 + 55 * speed * np.clip(np.cos(ph - 0.5), 0, None) ** 2 + 8 * np.clip(-np.sin(ph), 0, None)
        a["sh_flex" + side] = a["sh_flex" + side] - swing * 20 * np.sin(ph)
        a["elbow" + side] = a["elbow" + side] + 10 + swing * 10 * np.sin(ph)
    a["pelvis_roll"] = a["pelvis_roll"] + 3 * np.sin(phase)
    a["spine_twist"] = a["spine_twist"] + 5 * np.sin(phase)
    return a, speed * rng.uniform(1.1, 1.35)


def _sitting(rng: np.random.Generator, t: np.ndarray, a: dict, depth: np.ndarray) -> dict:
    """Blend the legs into a seated pose (depth 0 standing .. 1 chair .. 2 on the floor)."""
    chair, floor = np.clip(depth, 0, 1), np.clip(depth - 1, 0, 1)
    crouch = 4 * chair * (1 - chair)  # the transition passes through a crouch with a forward lean
    for side in ("R", "L"):
        a["hip_flex" + side] = a["hip_flex" + side] * (1 - chair) + chair * (88 + _smooth(rng, t, 4)) + crouch * 20
        a["knee" + side] = (a["knee" + side] * (1 - chair) + chair * (90 + _smooth(rng, t, 8)) + crouch * 30) * (1 - 0.8 * floor)
        a["hip_abd" + side] = a["hip_abd" + side] + 8 * chair + 6 * floor
    a["spine_flex"] = a["spine_flex"] + 25 * crouch - 8 * floor
    a["pelvis_pitch"] = a["pelvis_pitch"] + 12 * crouch - 10 * chair
    return a


def _arm(a: dict, side: str, flex, abd, rot, elbow) -> None:
    a["sh_flex" + side], a["sh_abd" + side], a["sh_rot" + side], a["elbow" + side] = flex, abd, rot, elbow


def action_motion(action: str, rng: np.random.Generator, t: np.ndarray, style: float) -> tuple:
    """Angles, forward speed (m/s), turning rate (rad/s) for one action's motion family."""
    a = _standing(rng, t, style)
    speed, turn = np.zeros_like(t), _smooth(rng, t, 0.25, 0.2)
    side = "R" if rng.random() < 0.7 else "L"
    other = "L" if side == "R" else "R"
    g = lambda lo, hi, f=0.5: _gesture(rng, t, lo, hi, f)  # noqa: E731
    if action in ("Walking", "WalkDog", "WalkTogether"):
        v = {"Walking": 1.0, "WalkDog": 0.7, "WalkTogether": 0.75}[action]
        a, speed = _walk(rng, t, a, v, swing=1.0 if action == "Walking" else 0.5)
        speed = speed * np.ones_like(t) * (g(0.6, 1.0, 0.2) if action == "WalkDog" else 1.0)
        if action == "WalkDog":  # leaning forward, one arm holding the lead
            a["spine_flex"] += 12
            _arm(a, side, g(25, 50), g(5, 20), 10, g(20, 50))
        if action == "WalkTogether":  # talking to the partner alongside
            a["neck_yaw"] = g(-40, 40, 0.3)
        turn = rng.choice([-1, 1]) * speed / rng.uniform(1.0, 1.4) + _smooth(rng, t, 0.1, 0.2)
    elif action == "Directions":  # pointing the way
        _arm(a, side, g(10, 85, 0.4), g(10, 45), g(-10, 20), g(5, 40))
        a["spine_twist"] += g(-15, 15, 0.3)
        speed = np.clip(_smooth(rng, t, 0.3, 0.2), 0, None)
    elif action == "Discussion":  # both hands gesticulating
        for sd in ("R", "L"):
            _arm(a, sd, g(5, 45, 0.9), g(5, 25, 0.8), g(10, 45), g(40, 110, 1.0))
        a["spine_twist"] += _smooth(rng, t, 8, 0.5)
    elif action == "Eating":  # at the table, hands to the mouth
        a = _sitting(rng, t, a, np.ones_like(t))
        a["spine_flex"] += 12
        for sd in ("R", "L"):
            _arm(a, sd, g(20, 55, 0.6), g(5, 25), g(20, 60), g(60, 140, 0.6))
    elif action == "Greeting":  # waving, with a slight bow
        _arm(a, side, g(20, 60, 0.3), g(30, 100, 0.3), g(-20, 10), 80 + 30 * np.sin(2 * np.pi * 2.2 * t))
        a["spine_flex"] += g(0, 25, 0.3)
        speed = np.clip(_smooth(rng, t, 0.4, 0.2), 0, None)
    elif action == "Phoning":  # one hand at the ear, strolling
        _arm(a, side, g(20, 40), g(30, 55), g(40, 70), g(125, 145))
        _arm(a, other, a["sh_flex" + other], a["sh_abd" + other], a["sh_rot" + other], g(10, 90, 0.3))
        speed = np.clip(_smooth(rng, t, 0.4, 0.2), 0, None)
    elif action == "Photo":  # both hands framing a camera in front of the face
        for sd in ("R", "L"):
            _arm(a, sd, g(50, 85, 0.3), g(15, 35), g(30, 55), g(100, 135, 0.3))
        a["knee" + side] += g(0, 25, 0.3)
        a["spine_twist"] += g(-20, 20, 0.3)
    elif action == "Posing":  # holding poses, arms raised and legs apart
        for sd in ("R", "L"):
            _arm(a, sd, g(-10, 90, 0.25), g(10, 150, 0.25), g(-20, 40, 0.25), g(0, 100, 0.25))
            a["hip_abd" + sd] += g(0, 20, 0.2)
        a["spine_lat"] += g(-15, 15, 0.2)
    elif action == "Purchases":  # bending forward to reach and pick things up
        bend = g(0, 1, 0.35)
        a["spine_flex"] += 45 * bend
        a["pelvis_pitch"] += 15 * bend
        for sd in ("R", "L"):
            a["knee" + sd] += 25 * bend
            a["hip_flex" + sd] += 20 * bend
        _arm(a, side, 20 + 50 * bend, g(5, 20), 10, g(10, 40))
        speed = np.clip(_smooth(rng, t, 0.3, 0.2), 0, None)
    elif action == "Sitting":  # seated on a chair, talking with the hands
        a = _sitting(rng, t, a, np.ones_like(t))
        for sd in ("R", "L"):
            _arm(a, sd, g(10, 45, 0.5), g(5, 25), g(20, 50), g(40, 110, 0.6))
        a["spine_flex"] += g(-10, 25, 0.3)
    elif action == "SittingDown":  # sitting down on the floor and getting up again
        span = t[-1] + 1 / FPS
        t0, t1 = sorted(rng.uniform(0.1, 0.9, 2) * span)
        depth = 2 * _smoothstep((t - t0 + 0.8) / 1.6) if rng.random() < 0.5 else 2 * (1 - _smoothstep((t - t1 + 0.8) / 1.6))
        a = _sitting(rng, t, a, depth)
        for sd in ("R", "L"):
            a["sh_flex" + sd] += 25 * np.clip(depth - 1, 0, 1)
    elif action == "Smoking":  # the hand goes to the mouth every few seconds
        lift = 0.5 * (1 - np.cos(2 * np.pi * rng.uniform(0.2, 0.35) * t + rng.uniform(0, 6.3)))
        _arm(a, side, 15 + 35 * lift, 15 + 10 * lift, 20 + 35 * lift, 25 + 115 * lift)
        speed = np.clip(_smooth(rng, t, 0.3, 0.2), 0, None)
    elif action == "Waiting":  # idle, hands on the hips or behind the back, looking around
        for sd in ("R", "L"):
            _arm(a, sd, g(-30, 5, 0.1), g(20, 40, 0.1), g(20, 50, 0.1), g(60, 100, 0.1))
        a["neck_yaw"] = g(-50, 50, 0.25)
        speed = np.clip(_smooth(rng, t, 0.3, 0.2), 0, None)
    else:
        raise ValueError(f"no motion family for action {action!r}")
    return a, speed, turn


def _clip_angles(a: dict) -> dict:
    out = {}
    for k, v in a.items():
        lo, hi = LIMITS[k[:-1] if k[:-1] in SIDED else k]
        out[k] = np.clip(v, lo, hi)
    return out


def sequence(subject: str, action: str, rng: np.random.Generator, n: int, style: float) -> np.ndarray:
    """World positions (n, 17, 3) of one sequence: motion, root path and height on the floor."""
    t = np.arange(n) / FPS
    ang, speed, turn = action_motion(action, rng, t, style)
    ang = _clip_angles(ang)
    yaw = rng.uniform(-np.pi, np.pi) + np.cumsum(turn) / FPS
    step = np.stack([np.cos(yaw), np.sin(yaw)], -1) * (np.asarray(speed) * np.ones(n))[:, None] / FPS
    path = np.cumsum(step, 0)
    # start so the whole path lies inside the capture area (radius 1.3 m around the centre)
    start = CENTRE + rng.uniform(-1, 1, 2) * 0.8 - path.mean(0)
    path = path + start
    far = np.linalg.norm(path - CENTRE, axis=-1).max()
    if far > 1.3:
        path = CENTRE + (path - CENTRE) * (1.3 / far)
    rel = forward_kinematics(ang, yaw, BONES[subject])  # (n, 17, 3)
    lowest = np.minimum(rel[:, 3, 2], rel[:, 6, 2])
    height = np.maximum(ANKLE_HEIGHT - lowest, 0.1)  # feet on the floor (or the pelvis, sitting on it)
    root = np.concatenate([path, height[:, None]], -1)
    return (rel + root[:, None]).astype(np.float32), yaw


def _inside(x: np.ndarray, subject: str, margin: float = 10.0) -> bool:
    for cam in h36m_cameras(subject):
        uv = cam.project(cam.world_to_camera(x))
        if uv.min() < margin or (uv[..., 0] > cam.res_w - margin).any() or (uv[..., 1] > cam.res_h - margin).any():
            return False
    return True


def synthetic_positions(seed: int = 0, frames: tuple[int, int] = FRAMES) -> tuple[dict, dict]:
    """subject -> action key -> (T, 32, 3) world metres, and the same with 17 joints."""
    pos32: dict[str, dict[str, np.ndarray]] = {}
    pos17: dict[str, dict[str, np.ndarray]] = {}
    for si, subject in enumerate(h36m.SUBJECTS):
        style = np.random.default_rng([seed, si]).uniform(0.7, 1.3)
        pos32[subject], pos17[subject] = {}, {}
        for ai, action in enumerate(ACTIONS):
            for ti, take in enumerate(TAKES):
                rng = np.random.default_rng([seed, si, ai, ti])
                n = int(rng.integers(*frames))
                for _ in range(20):  # redraw the rare path that leaves a camera's view
                    x, yaw = sequence(subject, action, rng, n, style)
                    if _inside(x, subject):
                        break
                else:
                    raise RuntimeError(f"synthetic {subject} {action}{take} keeps leaving the image")
                pos17[subject][action + take] = x
                pos32[subject][action + take] = to_32_joints(x, yaw).astype(np.float32)
    return pos32, pos17


def detector_like(gt: h36m.Positions2D, seed: int = 0) -> h36m.Positions2D:
    """CPN-like detections: temporally correlated pixel noise (larger at the extremities),
    occasional outlier frames, and 1-4 extra frames past the mocap's end."""
    scale = np.array([3, 4, 6, 8, 4, 6, 8, 3, 3, 4, 4, 5, 7, 9, 5, 7, 9], float)  # px per joint
    out: h36m.Positions2D = {}
    for si, (subject, actions) in enumerate(gt.items()):
        out[subject] = {}
        for ai, (action, views) in enumerate(actions.items()):
            rng = np.random.default_rng([seed, 1000 + si, ai])
            extra = int(rng.integers(1, 5))
            cams = []
            for uv in views:
                uv = np.concatenate([uv, uv[-1:].repeat(extra, 0)])  # (T + extra, 17, 2)
                noise = rng.normal(size=uv.shape)
                for k in range(1, len(noise)):  # AR(1): detections jitter smoothly
                    noise[k] = 0.7 * noise[k - 1] + 0.71 * noise[k]
                noise *= scale[:, None]
                jumps = rng.random(uv.shape[:2]) < 0.003  # a few gross errors
                noise[jumps] += rng.normal(scale=40, size=(int(jumps.sum()), 2))
                cams.append((uv + noise).astype(np.float32))
            out[subject][action] = cams
    return out


def write_synthetic(out_dir: str | Path, seed: int = 0, frames: tuple[int, int] = FRAMES) -> dict[str, Path]:
    """Write the three Human3.6M-layout files into out_dir (the 3D file last, so its presence
    means the set is complete). Deterministic given the seed."""
    out = Path(out_dir)
    start = time.perf_counter()
    pos32, pos17 = synthetic_positions(seed, frames)
    gt = h36m.gt_2d(pos17)
    paths = {"gt": out / h36m.FILE_2D_GT, "cpn": out / h36m.FILE_2D_CPN, "3d": out / h36m.FILE_3D}
    h36m.write_2d(paths["gt"], gt)
    h36m.write_2d(paths["cpn"], detector_like(gt, seed))
    h36m.write_3d(paths["3d"], pos32)
    frames = {s: sum(len(x) for x in acts.values()) for s, acts in pos17.items()}
    log.info("synthetic Human3.6M in %s: %s frames per subject (x4 cameras), %.1f s",
             out, frames, time.perf_counter() - start)
    return paths
