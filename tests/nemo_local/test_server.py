from __future__ import annotations

import socket
from pathlib import Path

import pytest

from nemo_local.config import ServerConfig
from nemo_local.server import serve


def test_a_taken_port_is_one_line_the_user_can_act_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        status = serve(ServerConfig(data_dir=tmp_path, port=port))
    err = capsys.readouterr().err
    assert status == 2
    assert f"127.0.0.1:{port}" in err and "--port" in err
    assert "Traceback" not in err
