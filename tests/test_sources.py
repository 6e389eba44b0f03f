"""Corpus bookkeeping: which voice a file belongs to, which split it lands in, which stage trains on it."""
from __future__ import annotations

import fnmatch
from pathlib import Path

from sigdenoise.config import load_train_config
from sigdenoise.data import is_validation
from sigdenoise.sources import _speaker_of

ROOT = Path(__file__).resolve().parents[1]
KTUBERLING_LANGUAGES = ["ca", "da", "de", "el", "en", "gl", "lt", "ru", "sl", "sr", "uk", "wa"]


def test_speaker_groups_follow_each_package_layout():
    assert _speaker_of("asterisk-core-sounds-fr-g722", Path("usr/share/asterisk/sounds/fr/a.g722")) == "fr"
    assert _speaker_of("klettres-data", Path("usr/share/klettres/de/alpha/a.ogg")) == "klettres-de"
    assert _speaker_of("ktuberling-data", Path("usr/share/ktuberling/sounds/da/hat.ogg")) == "ktuberling-da"
    assert _speaker_of("fillets-ng-data-cs", Path("x/kni-m-mise.ogg")) == "cs-m"


def test_ktuberling_voices_train_and_only_stage_three_uses_them():
    groups = [f"ktuberling-{lang}" for lang in KTUBERLING_LANGUAGES]
    assert not any(is_validation({"group": g, "md5": "0"}, "speech") for g in groups)

    def kept(config_name: str) -> set[str]:
        patterns = load_train_config(ROOT / "configs" / config_name).data.exclude_speakers
        return {g for g in groups if not any(fnmatch.fnmatchcase(g, p) for p in patterns)}

    # Stages 1 and 2 must reproduce the checkpoints they made before the voices were fetched.
    assert kept("speech.toml") == set() and kept("speech-finetune.toml") == set()
    assert kept("speech-voices.toml") == {f"ktuberling-{lang}" for lang in ("ca", "da", "el", "en", "lt", "uk", "wa")}


def test_no_training_stage_reads_a_held_out_package():
    from sigdenoise.sources import HELDOUT_ROLES, SOURCES, TRAINING_ROLES

    training = {s.package for role in TRAINING_ROLES for s in SOURCES[role]}
    held_out = {s.package for role in HELDOUT_ROLES for s in SOURCES[role]}
    assert held_out and not training & held_out
    # the unseen benchmark needs five noise packages against four SNRs, and one voice package of 3+ voices
    assert len({s.package for s in SOURCES["heldout-noise"]}) == 5
    # every config's extra noise folders are training roles, never a held-out one
    for config in sorted((ROOT / "configs").glob("*.toml")):
        data = load_train_config(config).data
        assert not set(data.extra_noise_dirs + data.extra_speech_dirs) & set(HELDOUT_ROLES), config.name


def test_dutch_voices_group_into_two_main_voices_the_rest_and_grunts():
    assert _speaker_of("fillets-ng-data-nl", Path("city/nl/vit-m-hlava.ogg")) == "nl-m"
    assert _speaker_of("fillets-ng-data-nl", Path("city/nl/vit-v-proc.ogg")) == "nl-v"
    assert _speaker_of("fillets-ng-data-nl", Path("magnet/rand-0-3.ogg")) == "nl-minor"
    assert _speaker_of("fillets-ng-data-nl", Path("magnet/b-hurt-0.ogg")) == "nl-x"
    assert _speaker_of("torcs-data", Path("usr/share/games/torcs/data/sound/944.wav")) == "torcs-data"


def test_archive_members_are_picked_by_pattern_and_exclusions(tmp_path):
    import io
    import zipfile

    import numpy as np
    import soundfile as sf

    from sigdenoise.sources import AptSource, _decode, _source_files

    tone = io.BytesIO()
    sf.write(tone, np.sin(np.arange(8000) / 5).astype(np.float32) * 0.1, 8000, format="WAV")
    (tmp_path / "data").mkdir()
    with zipfile.ZipFile(tmp_path / "data" / "game.zip", "w") as archive:
        for name in ("sound/world/wind.wav", "sound/player/sarge/taunt.wav", "sound/player/footsteps/a.wav",
                     "music/theme.wav"):
            archive.writestr(name, tone.getvalue())
    source = AptSource("game", "sound/*", "noise-wide", "GPL-2+", archive="data/game.zip",
                       exclude=("sound/player/[!f]*",))
    found = _source_files(source, tmp_path)
    assert [str(p) for p, _ in found] == ["data/game.zip/sound/player/footsteps/a.wav", "data/game.zip/sound/world/wind.wav"]
    clips = _decode(found[0][0], 16000, found[0][1])
    assert len(clips) == 1 and clips[0].size == 16000
