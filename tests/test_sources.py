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
