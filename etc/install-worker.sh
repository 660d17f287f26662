#!/bin/sh
# Sets up the mtor worker under systemd the way etc/mtor-worker.service expects. Run as root from the
# repository's root after `swift build -c release`. Idempotent: a second run changes nothing it made.
#
#   - a system account `mtor` with a home (/home/mtor): the worker and its agents run as it; `repo: ~/...`
#     points there, and it needs a git identity (`sudo -u mtor git config --global user.name ...`)
#   - a group `mtor` for submitters: `usermod -aG mtor alice`, then alice (after logging in again) drops specs
#     with `mtor submit --spool /var/lib/mtor/spool`, or from a laptop with `mtor submit --to alice@host:/var/lib/mtor/spool`
#   - the spool /var/lib/mtor/spool group-owned by `mtor` and setgid (drwxrws---): files made there belong to
#     the group, the worker writes sidecars, logs and state 0660, so a submitter in the group reads results
#   - /etc/mtor/mtor.env readable only by the worker (0600, owner mtor); /etc/mtor/providers.json readable by all
#   - mtor and mtor-probe in /usr/local/bin, README.md as the unit's Documentation=, the unit itself
#
# Every place can be moved with an environment variable (the test suite does, in a temp directory):
# MTOR_USER, MTOR_GROUP, MTOR_HOME, MTOR_STATE (/var/lib/mtor), MTOR_ETC (/etc/mtor), MTOR_BIN (/usr/local/bin),
# MTOR_DOC (/usr/local/share/doc/mtor), MTOR_UNIT_DIR (/etc/systemd/system), MTOR_BUILD (.build/release);
# MTOR_NO_SYSTEMCTL=1 skips `systemctl daemon-reload`.
set -eu
user=${MTOR_USER:-mtor}
group=${MTOR_GROUP:-mtor}
home=${MTOR_HOME:-/home/$user}
state=${MTOR_STATE:-/var/lib/mtor}
etc=${MTOR_ETC:-/etc/mtor}
bin=${MTOR_BIN:-/usr/local/bin}
doc=${MTOR_DOC:-/usr/local/share/doc/mtor}
unitdir=${MTOR_UNIT_DIR:-/etc/systemd/system}
build=${MTOR_BUILD:-.build/release}

[ "$(id -u)" -eq 0 ] || { echo "install-worker.sh: run it as root (it creates the account $user and group $group)" >&2; exit 3; }
[ -x "$build/mtor" ] || { echo "install-worker.sh: no $build/mtor; run 'swift build -c release' first" >&2; exit 3; }

getent group "$group" >/dev/null || groupadd --system "$group"
id -u "$user" >/dev/null 2>&1 || useradd --system --gid "$group" --create-home --home-dir "$home" --shell /bin/sh "$user"

install -d -m 755 "$bin" "$doc" "$unitdir" "$etc"
install -m 755 "$build/mtor" "$bin/mtor"
[ ! -x "$build/mtor-probe" ] || install -m 755 "$build/mtor-probe" "$bin/mtor-probe"
install -m 644 README.md "$doc/README.md"
[ -e "$etc/providers.json" ] || install -m 644 etc/providers.json "$etc/providers.json"
[ -e "$etc/mtor.env" ] || install -m 600 -o "$user" -g "$group" etc/mtor.env.example "$etc/mtor.env"
chown "$user" "$etc/mtor.env" && chmod 600 "$etc/mtor.env"

install -d -o "$user" -g "$group" -m 755 "$state"
install -d -o "$user" -g "$group" -m 2770 "$state/spool"
for dir in inbox claimed done failed logs tmp cancel state work; do
    install -d -o "$user" -g "$group" -m 2770 "$state/spool/$dir"
done

unit=$unitdir/mtor-worker.service
sed -e "s|^User=.*|User=$user|" -e "s|^Group=.*|Group=$group|" -e "s|/usr/local/share/doc/mtor/README.md|$doc/README.md|" etc/mtor-worker.service > "$unit.tmp"
chmod 644 "$unit.tmp" && mv "$unit.tmp" "$unit"
if [ "${MTOR_NO_SYSTEMCTL:-}" != 1 ] && command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload || true; fi
echo "installed: account $user (home $home), group $group for submitters, spool $state/spool, $unit"
echo "next: edit $etc/mtor.env (the keys), give $user a git identity, add submitters with 'usermod -aG $group NAME', then 'systemctl enable --now mtor-worker'"
