import os, signal, pytest
import cntr_helpers as H

@pytest.mark.deadline(5)
def test_hang_main(env):
    os.kill(env.server.proc.pid, signal.SIGSTOP)
    os.stat(env.m("nothing-here"))

def test_hang_child(env):
    os.kill(env.server.proc.pid, signal.SIGSTOP)
    H.run_child(lambda: os.listdir(env.mnt), timeout=3)
