"""Where the sample media shipped with the repository lives (demo, benchmarks, docs)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_FACES = REPO_ROOT / "model-training-pipeline" / "face-images"
SAMPLE_VIDEO = REPO_ROOT / "sample-media" / "video" / "short_hamilton_clip.mp4"
