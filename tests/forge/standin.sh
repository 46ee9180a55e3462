# SPDX-License-Identifier: MIT
# Shell helpers for the GitLab stand-in (source this file; POSIX sh).
#   standin_start              sets STANDIN_URL and STANDIN_PID
#   standin_ctl METHOD PATH [JSON]   prints the body; status 0 on 2xx
#   standin_stop               SIGTERM and wait
# The stand-in also exits by itself when the shell that started it exits.

STANDIN_DIR=${STANDIN_DIR:-$(cd "$(dirname "${STANDIN_SH:-$0}")" 2>/dev/null && pwd)}
[ -f "$STANDIN_DIR/standin.py" ] || STANDIN_DIR=$(cd "$(dirname "$0")/../forge" 2>/dev/null && pwd)

standin_start() {
	_standin_out=$(mktemp "${TMPDIR:-/tmp}/standin-url.XXXXXX") || return 1
	python3 "$STANDIN_DIR/standin.py" "$@" >"$_standin_out" &
	STANDIN_PID=$!
	_i=0
	while [ "$_i" -lt 300 ]; do
		if [ -s "$_standin_out" ] && grep -q '^http://' "$_standin_out"; then
			STANDIN_URL=$(head -n 1 "$_standin_out")
			rm -f "$_standin_out"
			export STANDIN_URL STANDIN_PID
			return 0
		fi
		kill -0 "$STANDIN_PID" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	rm -f "$_standin_out"
	standin_stop
	return 1
}

standin_ctl() {
	python3 "$STANDIN_DIR/standinctl.py" "$STANDIN_URL" "$@"
}

standin_stop() {
	if [ -n "${STANDIN_PID:-}" ]; then
		kill "$STANDIN_PID" 2>/dev/null || true
		wait "$STANDIN_PID" 2>/dev/null || true
		STANDIN_PID=
	fi
}
