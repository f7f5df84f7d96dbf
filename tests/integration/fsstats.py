"""The request counts `cntr mount --stats` prints at unmount, as a dict."""

import re

# "cntr:   LOOKUP                 12      3.4 us", "cntr:   opcode 77            1      0.2 us",
# "cntr:   total ...", "cntr:   via io_uring       1234"
_LINE = re.compile(r"^cntr:   (opcode \d+|[A-Za-z_0-9]+(?: [a-z_]+)?)\s+(\d+)(?:\s+([0-9.]+) us)?\s*$")
HEADER = "cntr: FUSE requests by opcode (count, average handling time):"


def parse(stderr):
    """{opcode name: count} from the last --stats table in stderr, with "total" and
    "via io_uring"; raises AssertionError when there is no table."""
    lines = stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line == HEADER]
    assert starts, "no --stats table in the server's stderr:\n" + stderr[-3000:]
    counts = {}
    for line in lines[starts[-1] + 1:]:
        m = _LINE.match(line)
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    assert "total" in counts and "via io_uring" in counts, "truncated --stats table:\n" + stderr[-3000:]
    return counts
