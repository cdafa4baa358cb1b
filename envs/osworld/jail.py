"""Isolation for the commands an OSWorld task file runs on this machine (``trust_commands``).

OSWorld runs a task's setup commands and command getters inside a disposable VM. The local
provider runs them here, so it runs them only when the user opts in (``?trust_commands=1`` or
``$CUA_OSWORLD_TRUST_COMMANDS=1``), and then inside Linux namespaces made with util-linux
``unshare`` as the current user (no root, no setuid helper):

Isolated:
  * network: a new network namespace with only a loopback device that is down: no internet,
    no LAN, no service on the host's loopback (abstract unix sockets included);
  * files: every mount is read-only except the episode's sandbox folder (its home, where
    ``/home/user`` points); the user's real ``$HOME``, ``/tmp``, ``/var/tmp``, ``/run`` and
    ``/dev/shm`` are empty private tmpfs (hidden; writes there vanish with the command); ``/dev``
    holds only null, zero, full, random, urandom, tty and a private pty instance; ``/proc/sys``
    is read-only; the X socket folder ``/tmp/.X11-unix`` is bound back so programs reach the
    episode's Xvfb display;
  * privileges: the mounts are made by a first user namespace, the command runs in a nested one
    as the user's own uid, so it cannot unmount or remount them; the hostname is private (UTS);
  * environment: only PATH, HOME (the sandbox home), DISPLAY, locale, TERM, USER, SHELL and TZ
    are passed (no API keys or tokens from the caller's environment).

Not isolated:
  * it still runs as the user: it can read every file the user can read outside the hidden
    folders (``/etc``, ``/usr``, ``/opt``, other mounts, the project checkout), and could write
    what it read into the sandbox home (there is no network to send it anywhere);
  * processes: no PID namespace (the episode finds a launched program's window by its pid, and
    a program in a PID namespace reports its namespace pid in ``_NET_WM_PID``), so it can see
    and signal the user's other processes, and can connect to unix sockets outside the hidden
    folders; it shares the X display of the episode (not the user's own display). A command
    run to completion (``execute``, command getters) is killed with its whole process group
    when it ends or times out, and its output goes to files, so ``sleep 1000 &`` neither
    survives it nor holds the runner; a child that calls ``setsid`` escapes that (until the
    episode ends for ``launch``ed programs). ``--pid --fork --kill-child --mount-proc`` would
    close this and give a fresh ``/proc``; not done yet because of the window lookup by pid;
  * ``/proc`` is the host's (only ``/proc/sys`` is read-only): run as root, writable files
    there (``/proc/sysrq-trigger``, ``/proc/<pid>/...`` of the user's processes) are reachable
    as far as the user namespace's capabilities allow; no seccomp filter, no resource limits
    beyond the guest server's 120 s timeout (``sleep`` steps are capped at 60 s and ``until``
    loops at 10 minutes);
  * run as root, the command is ``nobody`` inside but root outside: root-owned files stay
    readable and what it writes in the sandbox belongs to root;
  * the sandbox home is shared with our own programs (Chromium, the app ``open`` starts), which
    run OUTSIDE the jail. Against dotfiles a jailed command plants there (``~/.gdbinit``, GIMP
    plug-ins, LibreOffice settings, NativeMessagingHosts): our programs get the scrubbed
    environment above, the task's Chromium flags are allow-listed (no ``--debug`` gdb, no
    ``--load-extension``), and once a task command has run in the episode they start with HOME
    in a fresh folder next to the sandbox root (outside the jail's writable mount) and Chromium
    with ``--disable-extensions``. Chromium's profile (``--user-data-dir``) stays in the sandbox
    home, where OSWorld's getters and commands expect it: a command can still edit its
    Preferences / Bookmarks (what those tasks are about), and an ``open``ed document can still
    carry content the app interprets (LibreOffice macros run only per its default, untouched,
    security settings in that fresh HOME);
  * programs installed under the real home (``~/.local/bin``, a venv there) are hidden too.

Where ``unshare`` is missing or user namespaces are disabled (``kernel.unprivileged_userns_clone
= 0``, some container runtimes), the probe fails, a warning is logged once, and trusted
commands run without isolation (as before): HOME still points at the sandbox.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TRUST_ENV_VAR = "CUA_OSWORLD_TRUST_COMMANDS"
TRUST_HINT = (f"allow with ?trust_commands=1 in the suite spec or {TRUST_ENV_VAR}=1 "
              "(then it runs isolated where unshare works: no network, read-only outside the sandbox)")
# What a task command sees of our environment (HOME and PWD are set to the sandbox home).
PASSED_ENV = ("PATH", "DISPLAY", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TERM", "USER",
              "LOGNAME", "SHELL", "TZ")
PROBE_TIMEOUT_S = 20.0
NOBODY = 65534

# Runs as root of the first user namespace, in a fresh mount namespace: $1 sandbox root,
# $2 the real home, $3/$4 the user's uid/gid, $5 unshare, then the command. The sandbox and the X socket
# folder are held open (fds 3, 4) so they can be bound back after tmpfs hides their parents.
_JAIL_SCRIPT = r"""
set -eu
root=$1 hosthome=$2 uid=$3 gid=$4 unshare=$5; shift 5
fail() { echo "cua jail: $*" >&2; exit 125; }
mount -n --bind "$root" "$root" || fail "cannot bind $root"
exec 3<"$root"
if [ -d /tmp/.X11-unix ]; then exec 4</tmp/.X11-unix; else exec 4</dev/null; fi
stash="$root/.cua-jail-dev"
mkdir -p "$stash"
for n in null zero full random urandom tty; do
  if [ -e "/dev/$n" ]; then : > "$stash/$n"; mount -n --bind "/dev/$n" "$stash/$n"; fi
done
awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r mp; do
  mp=$(printf '%b' "$mp")
  case "$mp" in "$root"|"$root"/*|/proc|/proc/*) continue;; esac
  mount -n -o remount,bind,ro "$mp" 2>/dev/null || fail "cannot make $mp read-only"
done
mount -n --bind /proc/sys /proc/sys && mount -n -o remount,bind,ro /proc/sys
mount -n -t tmpfs -o mode=0755 tmpfs /dev
for n in null zero full random urandom tty; do
  if [ -e "$stash/$n" ]; then : > "/dev/$n"; mount -n --move "$stash/$n" "/dev/$n"; fi
done
mkdir /dev/pts /dev/shm
mount -n -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -n -t tmpfs tmpfs /dev/shm
for d in "$hosthome" /tmp /var/tmp /run; do
  if [ -d "$d" ] && [ "$d" != / ]; then mount -n -t tmpfs -o mode=0755 tmpfs "$d"; fi
done
mkdir -p /tmp/.X11-unix "$root"
if [ -d /proc/self/fd/4 ]; then mount -n --no-canonicalize --bind /proc/self/fd/4 /tmp/.X11-unix; fi
mount -n --no-canonicalize --bind /proc/self/fd/3 "$root"
exec 3<&- 4<&-
rm -rf "$stash"
cd "$root/home" 2>/dev/null || cd "$root"
exec "$unshare" --user --map-user="$uid" --map-group="$gid" -- "$@"
"""


def trusted_by_env() -> bool:
    return os.environ.get(TRUST_ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")


def task_env(home: Path, display: str | None) -> dict[str, str]:
    """The environment a task command gets: a short allow-list, HOME/PWD in the sandbox."""
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(HOME=str(home), PWD=str(home))
    if display:
        env["DISPLAY"] = display
    return env


def _unshare() -> str | None:
    return shutil.which("unshare") or next(
        (p for p in ("/usr/bin/unshare", "/bin/unshare") if Path(p).is_file()), None)


def wrap(argv: list[str], root: Path) -> list[str]:
    """``argv`` run inside the jail with ``root`` (the sandbox folder) writable. The pid stays
    the command's own (every stage execs), so a launched program's window is found by pid."""
    unshare = _unshare()
    if unshare is None:
        raise OSError("unshare is not installed")
    return [unshare, "--user", "--map-root-user", "--net", "--mount",
            "--uts", "/bin/sh", "-c", _JAIL_SCRIPT, "cua-jail", str(root),
            os.path.expanduser("~"), *map(str, _inner_ids()), unshare, *argv]


def _inner_ids() -> tuple[int, int]:
    """The uid/gid the command sees: the user's own; for root, nobody/nogroup (programs that
    run as root call setgroups(), which a user namespace refuses; OSWorld's guest user is not
    root either). Files it writes still belong to the real user."""
    if os.getuid() == 0:
        return NOBODY, NOBODY
    return os.getuid(), os.getgid()


@dataclass(frozen=True)
class Isolation:
    available: bool
    detail: str  # what works, or why it does not


# Inside the jail: "/" must be mounted read-only and no network device but lo may exist.
_PROBE_CHECK = ("awk '$5==\"/\" {print $6}' /proc/self/mountinfo | grep -q '^ro' || exit 3; "
                "if grep -v -e '|' -e 'lo:' /proc/net/dev | grep -q ':'; then exit 4; fi; "
                "touch \"$HOME/ok\"")


@functools.cache
def probe() -> Isolation:
    """Does the jail work here? Runs a check inside it once per process."""
    if _unshare() is None:
        return Isolation(False, "unshare (util-linux) is not installed")
    with tempfile.TemporaryDirectory(prefix="cua-jail-probe-") as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        try:
            done = subprocess.run(wrap(["/bin/sh", "-c", _PROBE_CHECK], root),
                                  env=task_env(root / "home", None), capture_output=True, text=True,
                                  timeout=PROBE_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Isolation(False, f"unshare did not run: {exc}")
        if done.returncode == 3:
            return Isolation(False, "the jail could not mount / read-only")
        if done.returncode == 4:
            return Isolation(False, "the jail still sees a network device")
        if done.returncode != 0 or not (root / "home" / "ok").is_file():
            err = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            return Isolation(False, f"user namespaces do not work here ({err})")
    return Isolation(True, "unshare: no network, read-only filesystem outside the sandbox, "
                           "real home hidden")


@functools.cache
def warn_unisolated() -> None:
    """Logged once per process when trusted commands run without the jail."""
    log.warning("OSWorld task commands run WITHOUT isolation (%s): they can read and write "
                "everything your user can and reach the network", probe().detail)
