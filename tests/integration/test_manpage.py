"""doc/cntr.1 against the binary: the page renders without a single groff
warning, and it cannot drift from the command line - every option that
`cntr attach|exec|mount --help` prints, and every -t type name, is described
in the right section of the page; every option the page describes is one the
binary accepts; and the page's version is the binary's."""

import os
import re
import shutil

import pytest

import cntr_helpers as H

MANPAGE = os.path.join(H.REPO, "doc", "cntr.1")
COMMANDS = ("attach", "exec", "mount")
# An option in a --help table: "  -t, --type TYPES", "      --threads N", "  -o OPT".
HELP_OPTION_LINE = re.compile(r"^\s+(?:(-[A-Za-z0-9])\b,?\s*)?(--[a-z0-9][a-z0-9-]*)?")
# An option name anywhere in the page's text (not the bare "--" separator).
OPTION_TOKEN = re.compile(r"(?<![\w-])(--?[A-Za-z][A-Za-z0-9-]*)")


def run(args):
    return H.run_cmd([H.cntr_bin()] + list(args), timeout=20)


def help_text(cmd):
    r = run([cmd, "--help"])
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def help_options(text):
    opts = set()
    for line in text.splitlines():
        m = HELP_OPTION_LINE.match(line)
        if m:
            opts.update(o for o in m.groups() if o)
    return opts


def page_source():
    with open(MANPAGE) as f:
        return f.read()


def plain(src):
    """The page's source with comments and the escapes that can sit inside a
    name removed: \\- is '-', font changes and \\% \\& are dropped."""
    src = "\n".join(line for line in src.splitlines() if not line.startswith('.\\"'))
    src = src.replace("\\-", "-").replace("\\(dq", '"')
    src = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", src)
    return src.replace("\\%", "").replace("\\&", "")


def sections(src):
    """{heading: body} for every .SH and .SS of the plain source."""
    out, name, body = {}, None, []
    for line in src.splitlines():
        m = re.match(r'^\.S[HS]\s+"?([^"]*)"?\s*$', line)
        if m:
            if name is not None:
                out[name] = "\n".join(body)
            name, body = m.group(1), []
        else:
            body.append(line)
    if name is not None:
        out[name] = "\n".join(body)
    return out


def mentions(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def tags(body):
    """The .TP tags of a section: the line after each .TP, as words."""
    lines = body.splitlines()
    return {w for i, line in enumerate(lines[:-1]) if line.strip() == ".TP"
            for w in re.findall(r"[\w-]+", lines[i + 1])}


@pytest.fixture(scope="module")
def page():
    assert os.path.isfile(MANPAGE), "missing %s" % MANPAGE
    return sections(plain(page_source()))


def test_renders_without_warnings():
    groff = shutil.which("groff")
    if not groff:
        pytest.fail("groff is not installed (Debian package groff-base, in TEST_DEPS)", pytrace=False)
    r = H.run_cmd([groff, "-man", "-ww", "-z", "-Tutf8", MANPAGE], timeout=30)
    assert r.returncode == 0 and not r.stderr, "groff: %s" % r.stderr.decode()


def test_has_every_section(page):
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "TARGETS", "BACK ENDS",
                 "MOUNT HELPER", "SECURITY", "ENVIRONMENT", "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"):
        assert name in page, "no section %s" % name
    for cmd in COMMANDS:
        assert "Options of " + cmd in page, "no subsection 'Options of %s'" % cmd


def test_every_command_of_cntr_help_is_described(page):
    r = run(["help"])
    assert r.returncode == 0
    listed = re.findall(r"^  ([a-z]+)\b", r.stdout.decode(), re.M)
    assert set(listed) >= set(COMMANDS) | {"version", "help"}, listed
    missing = [c for c in listed if c not in tags(page["COMMANDS"])]
    assert not missing, "commands of `cntr help` not in COMMANDS: %s" % missing


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_option_of_help_is_described(page, cmd):
    opts = help_options(help_text(cmd))
    # The parser must really have found the tables, or this test proves nothing.
    assert {"-h", "--help", "-v", "--verbose"} <= opts, opts
    assert ({"-t", "--type"} if cmd != "mount" else {"-o", "--threads"}) <= opts, opts
    body = page["Options of " + cmd]
    missing = sorted(o for o in opts if not mentions(body, o))
    assert not missing, "`cntr %s --help` prints %s, not in the man page's 'Options of %s'" % (
        cmd, missing, cmd)


def accepts(cmd, opt):
    """`cntr CMD OPT --help`: None when the parser took OPT (it printed CMD's help and exited 0,
    or it took '--help' as OPT's value and refused that value with one 'cntr:' line and exit
    status 2); otherwise what it did instead."""
    r = run([cmd, opt, "--help"])
    out, err = r.stdout.decode(), r.stderr.decode()
    if r.returncode == 0 and out.startswith("Usage: cntr %s " % cmd) and not err:
        return None
    lines = err.splitlines()
    if (r.returncode == 2 and not out and len(lines) == 1 and lines[0].startswith("cntr: ")
            and "'--help'" in lines[0] and "unknown option '%s'" % opt not in lines[0]):
        return None
    return "exit %d, stdout %r, stderr %r" % (r.returncode, out[:80], err)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_described_option_is_accepted(page, cmd):
    """Every option the page describes for CMD is one the parser takes (not just one it does
    not call unknown). Nothing is attached to or mounted either way."""
    documented = set(OPTION_TOKEN.findall(page["Options of " + cmd]))
    assert "--help" in documented and len(documented) >= 8, documented
    # The check itself must be able to tell: an option the parser does not know fails it.
    assert accepts(cmd, "--no-such-option") is not None
    assert accepts(cmd, "-Q") is not None
    refused = {opt: why for opt in sorted(documented) if (why := accepts(cmd, opt)) is not None}
    assert not refused, "the man page describes options of %s that the binary does not take: %r" % (
        cmd, refused)


def test_every_target_type_is_described(page):
    text = help_text("attach")
    m = re.search(r"comma list of:(.*?)Default:", text, re.S)
    assert m, "no type list in `cntr attach --help`"
    listed = re.sub(r"\([^)]*\)", "", m.group(1))
    types = set(re.findall(r"[a-z_]+", listed))
    # The -t parser's own list, from its error message.
    r = run(["attach", "-t", "no_such_type", "x"])
    assert r.returncode == 2
    known = re.search(r"known: ([a-z_, ]+)\)", r.stderr.decode())
    assert known, r.stderr.decode()
    types |= set(t.strip() for t in known.group(1).split(","))
    assert {"process_id", "docker", "command"} <= types, types
    missing = sorted(t for t in types if t not in tags(page["TARGETS"]))
    assert not missing, "-t types not described in TARGETS: %s" % missing


def test_every_backend_is_described(page):
    text = help_text("attach")
    m = re.search(r"--backend B(.*?)\n  -", text, re.S)
    assert m
    backends = set(re.findall(r"(\w+)\s*(?:\(default\))?:", m.group(1)))
    assert backends == {"cntrfs", "bind", "auto"}, backends
    missing = sorted(b for b in backends if b not in tags(page["BACK ENDS"]))
    assert not missing, "back ends not described in BACK ENDS: %s" % missing


def test_version_is_the_binarys():
    r = run(["version"])
    assert r.returncode == 0
    version = r.stdout.decode().split()[-1]
    th = re.search(r'^\.TH\s+CNTR\s+1\s+\S+\s+"cntr ([^"]+)"', page_source(), re.M)
    assert th, "no .TH line with \"cntr VERSION\""
    assert th.group(1) == version, "man page says %s, `cntr version` %s" % (th.group(1), version)


def test_every_dropped_variable_is_listed(page):
    """SECURITY lists the container variables an attach session never gets: exactly the
    names and prefixes of src/env.c, so the page cannot fall behind the code."""
    src = open(os.path.join(H.REPO, "src", "env.c")).read()
    names = re.findall(r'"([A-Z0-9_]+)"', src[src.index("unsafe_names[]"):src.index("unsafe_prefixes[]")])
    prefixes = re.findall(r'"([A-Z0-9_]+)"', src[src.index("unsafe_prefixes[]"):src.index("key_len")])
    assert len(names) > 40 and "LD_" in prefixes, (names, prefixes)
    text = " ".join(page["SECURITY"].split())
    listed = set(re.findall(r"[A-Z_][A-Z0-9_]+", text))
    missing = [n for n in names + prefixes if n not in listed]
    assert not missing, "dropped variables not in SECURITY: %s" % missing
