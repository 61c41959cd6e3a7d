"""The README as a newcomer reads it: its commands run as written and print what it says, and it
points at nothing outside the repository.

Which blocks run is marked in the README itself, so that sections added later run only when
someone marks them: ``<!-- test: runs … -->`` before a shell block (run by bash from a directory
that has the repository's ``.venv``, exit status 0), then optionally ``<!-- test: stdout -->``
and ``<!-- test: stderr -->`` blocks with what it prints (a JSON block is compared as JSON). The
section "Run it by hand" is run step by step, as its own test, on ports of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
MARK = re.compile(r"^<!-- test: (runs|stdout|stderr)\b.*-->$")
FENCE = re.compile(r"^( *)```(\w*)$")


@dataclass
class Block:
    language: str
    text: str
    mark: str | None = None
    """The ``<!-- test: … -->`` mark right before it, if any."""


@dataclass
class Example:
    command: str
    stdout: Block | None = None
    stderr: Block | None = None


def blocks(markdown: str) -> Iterator[Block]:
    """The fenced blocks, dedented, each with the mark on the line before it (blank lines
    between are allowed)."""
    lines = markdown.splitlines()
    mark: str | None = None
    number = 0
    while number < len(lines):
        line = lines[number]
        fence = FENCE.match(line)
        marked = MARK.match(line.strip())
        if marked:
            mark = marked.group(1)
        elif fence:
            indent, language = len(fence.group(1)), fence.group(2)
            end = next(n for n in range(number + 1, len(lines)) if lines[n].strip() == "```")
            body = "\n".join(text[indent:] for text in lines[number + 1 : end])
            yield Block(language, body + "\n", mark)
            mark, number = None, end
        elif line.strip():
            mark = None
        number += 1


def examples(markdown: str) -> list[Example]:
    found: list[Example] = []
    for block in blocks(markdown):
        if block.mark == "runs":
            found.append(Example(block.text))
        elif block.mark in ("stdout", "stderr"):
            assert found, f"a {block.mark} block with no command before it"
            setattr(found[-1], block.mark, block)
    return found


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory of the newcomer's own with the repository's ``.venv`` in it: what the
    commands write lands here, not in the repository."""
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return tmp_path


def bash(command: str, cwd: Path, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=timeout_s
    )


def test_the_readme_s_examples_print_what_it_shows(workdir: Path) -> None:
    found = examples(README)
    assert found, "the README marks no example to run (<!-- test: runs -->)"
    for example in found:
        done = bash(example.command, workdir)
        assert done.returncode == 0, f"{example.command}\n{done.stderr}"
        if example.stdout is not None:
            if example.stdout.language == "json":
                printed = [json.loads(line) for line in done.stdout.splitlines()]
                assert printed == [json.loads(example.stdout.text)], example.command
            else:
                assert done.stdout == example.stdout.text, example.command
        if example.stderr is not None:
            assert done.stderr == example.stderr.text, example.command


def test_the_dry_run_example_is_run_with_its_output_and_its_event_is_one_line() -> None:
    # A JSON-lines reader takes an event spread over two lines for two broken events.
    (dry_run, *_) = examples(README.split("## The dry run", 1)[1])
    assert dry_run.stdout is not None
    assert dry_run.stderr is not None
    assert dry_run.command.count("\n") == 1
    assert "translate" in dry_run.command


def test_the_examples_are_found_by_their_marks() -> None:
    markdown = (
        "intro\n\n<!-- test: runs (why) -->\n```sh\necho hi\n```\n\nprints\n\n"
        "<!-- test: stdout -->\n```text\nhi\n```\n\n```sh\nnot run\n```\n"
        "<!-- test: runs -->\nprose between: the mark is not for the next block\n```sh\nno\n```\n"
        "\n## Another\n\n1. a step\n\n   <!-- test: runs -->\n   ```sh\n   echo 1\n   ```\n"
    )
    (first, second) = examples(markdown)
    assert (first.command, first.stdout and first.stdout.text) == ("echo hi\n", "hi\n")
    assert (second.command, second.stdout) == ("echo 1\n", None)


LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`(\.\.?/[^`\s]+)`")


@pytest.mark.parametrize(
    "page",
    [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "README.md"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_a_page_links_only_files_inside_the_repository(page: Path) -> None:
    text = page.read_text()
    targets = [t for t in LINK.findall(text) if not re.match(r"[a-z]+:|#", t)]
    targets += CODE_PATH.findall(text)
    for target in targets:
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT.resolve()), f"{target} is outside the repository"
        assert path.exists(), f"{target} does not exist"


# Run it by hand ------------------------------------------------------------------------------

PORTS = {"broker": "9092", "simulator": "8765", "service": "8080"}


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@dataclass
class Terminal:
    """A step left running, as in a terminal of its own, in a process group of its own."""

    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def wait_for(self, text: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            assert self.process.poll() is None, f"{self.name} ended:\n{self.output()}"
            assert time.monotonic() < deadline, f"{self.name}: no {text!r}:\n{self.output()}"
            time.sleep(0.1)

    def ctrl_c(self, timeout_s: float = 30) -> int:
        """Stop it as the README says (Ctrl+C); killed if that does not stop it in time."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return -signal.SIGKILL


def http(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def until(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.integration  # starts a broker of its own, as the README says
def test_run_it_by_hand_as_written(workdir: Path) -> None:
    section = README.split("\n## Run it by hand\n", 1)[1].split("\n## ", 1)[0]
    ports = {name: free_port() for name in PORTS}
    for name, port in PORTS.items():
        assert port in section, f"the section no longer uses port {port} for the {name}"
        section = section.replace(port, ports[name])
    steps = [b.text for b in blocks(section) if b.language == "sh"]
    assert len(steps) == 6, "the test follows the section's six steps: update both together"
    terminals: list[Terminal] = []
    logs = contextlib.ExitStack()

    def start(name: str, command: str) -> Terminal:
        log = logs.enter_context((workdir / f"{name}.log").open("w+b"))
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        terminals.append(Terminal(name, process, log))
        return terminals[-1]

    with logs:
        try:
            _steps(start, steps, ports, workdir)
        finally:
            statuses = {terminal.name: terminal.ctrl_c() for terminal in reversed(terminals)}
        assert statuses == {"service": 0, "simulator": 0, "broker": 0}
        assert "Kafka broker stopped." in terminals[0].output()


def _steps(
    start: Callable[[str, str], Terminal], steps: list[str], ports: dict[str, str], workdir: Path
) -> None:
    """The section's steps, each taken as the README says."""
    broker, simulator, service, event, look, check = steps
    start("broker", broker).wait_for(f"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{ports['broker']}\n")
    start("simulator", simulator).wait_for("API key: sim-api-key")
    run = start("service", service)
    readyz = f"http://127.0.0.1:{ports['service']}/readyz"
    until(lambda: http(readyz)[0] == 200, "the service ready")
    run.wait_for("partitions_assigned")

    produced = bash(event, workdir)
    assert produced.returncode == 0, produced.stderr
    assert produced.stdout.startswith("sent 1 event(s) to 'segment-events'")
    run.wait_for("] delivered ")  # the event's line (the ledger's topic is named *.delivered)

    looked = bash(look, workdir)
    assert looked.returncode == 0, looked.stderr
    ready, counted, contacts = looked.stdout.splitlines()
    assert json.loads(ready) == {"ready": True, "detail": "ok"}
    assert counted == 'fsd_events_total{outcome="delivered",type="identify"} 1.0'
    (ada,) = json.loads(contacts)["contacts"]
    assert (ada["first_name"], ada["emails"][0]["value"]) == ("Ada", "ada@example.com")

    assert run.ctrl_c() == 0
    assert re.search(r"\] stopping .*\n.*\] stopped ", run.output()), run.output()
    # Its terminal keeps the environment it exported.
    exported = service.split(".venv/bin/freshsales-destination run")[0]
    checked = bash(exported + check, workdir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"^OK: 15 ok, 0 warn, 0 fail, 0 skip; 7 Freshsales", checked.stdout, re.M)
    assert (workdir / "catalog.json").exists()
