#!/bin/sh
# config.sh LINUX_TOML > WINDOWS_TOML: the commented tilld.toml the .msi
# installs, made from the .deb's (packaging/tilld/tilld.toml) so that the two
# never drift: the same settings and defaults, Windows' paths, service commands
# and ports. Each replaced line must be found, or this fails.
set -eu
src=$1
for want in \
	'^# which fills in terminal, hq and hq_key (run it as user tilld, which must$' \
	'^# read what it writes), then start tilld:$' \
	'^# api.token in data_dir, readable by user and group tilld: add the POS$' \
	'^# application'"'"'s user to group tilld (adduser posapp tilld); tillctl reads it$' \
	'^# when run with sudo or by a member of the group. A web page in a browser on$' \
	'^# /etc/tilld/tilld.toml: ' \
	'`systemctl restart tilld` applies it' \
	'^#   sudo -u tilld tilld enroll ' \
	'^#   systemctl start tilld$' \
	'^#data_dir = "/var/lib/tilld"$' \
	'systemd creates /var/lib/tilld for the tilld user\.' \
	'^#port = "/dev/ttyUSB0"$' \
	'^# (/dev/ttyUSB\*, /dev/ttyACM\*)\. Prefer the port'"'"'s /dev/serial/by-id/ link,$'; do
	grep -q -- "$want" "$src" || { echo "config.sh: $src no longer has a line matching: $want" >&2; exit 1; }
done
sed -e 's|^# which fills in terminal, hq and hq_key (run it as user tilld, which must$|# which fills in terminal, hq and hq_key (in an administrator'"'"'s console; it|' \
	-e 's|^# read what it writes), then start tilld:$|# writes into C:\\ProgramData\\tilld\\data), then start tilld:|' \
	-e 's|^# api.token in data_dir, readable by user and group tilld: add the POS$|# api.token in data_dir, readable by SYSTEM and the Administrators only: give|' \
	-e 's|^# application'"'"'s user to group tilld (adduser posapp tilld); tillctl reads it$|# the POS application a copy readable by its user only; tillctl reads it|' \
	-e 's|^# when run with sudo or by a member of the group. A web page in a browser on$|# when run as an administrator. A web page in a browser on|' \
	-e 's|^# /etc/tilld/tilld.toml: |# C:\\ProgramData\\tilld\\tilld.toml: |' \
	-e 's|`systemctl restart tilld` applies it|`Restart-Service tilld` applies it|' \
	-e 's|^#   sudo -u tilld tilld enroll |#   tilld enroll |' \
	-e 's|^#   systemctl start tilld$|#   Start-Service tilld   (in an administrator'"'"'s PowerShell)|' \
	-e 's|^#data_dir = "/var/lib/tilld"$|#data_dir = '"'"'C:\\ProgramData\\tilld\\data'"'"'|' \
	-e 's|systemd creates /var/lib/tilld for the tilld user\.|The installer creates C:\\ProgramData\\tilld\\data for SYSTEM and the Administrators only.|' \
	-e 's|^#port = "/dev/ttyUSB0"$|#port = "COM3"|' \
	-e 's|^# (/dev/ttyUSB\*, /dev/ttyACM\*)\. Prefer the port'"'"'s /dev/serial/by-id/ link,$|# (COM1, COM3...: Device Manager, "Ports (COM \& LPT)"). Give the adapter a fixed COM number there,|' \
	"$src" | sed 's/$/\r/'
