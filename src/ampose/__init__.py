"""ampose: lift 2D human keypoints to 3D poses with AMPose (ICASSP 2023)."""

__version__ = "0.1.0"
