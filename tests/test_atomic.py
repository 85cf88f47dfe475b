"""Outputs appear whole or not at all."""

import os
import stat

import pytest

from mnist_vae.atomic import atomic_path, write_json


def test_a_failed_write_leaves_no_file_and_no_temporary(tmp_path):
    target = tmp_path / "out" / "metrics.json"

    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"half": ')
        raise RuntimeError("interrupted")

    assert list((tmp_path / "out").iterdir()) == []


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out" / "metrics.json"
    write_json(target, {"loss": 1.0})

    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("garbage")
        raise RuntimeError("interrupted")

    assert target.read_text() == '{\n  "loss": 1.0\n}\n'
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]


def test_the_temporary_keeps_the_suffix_and_the_file_gets_the_usual_mode(tmp_path):
    target = tmp_path / "vae.keras"

    with atomic_path(target) as tmp:
        assert tmp.suffix == ".keras" and tmp.parent == tmp_path
        tmp.write_bytes(b"model")

    assert target.read_bytes() == b"model"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
