/**
 * Stub commands for the fast tier (robot shell under a real sh in a sandbox): systemctl keeps the
 * enable symlinks under $SANDBOX/root as systemd would, and logs each call to $SANDBOX/systemctl.log.
 */
export const SYSTEMCTL = `#!/bin/sh
echo "$*" >> "$SANDBOX/systemctl.log"
for a; do last=$a; done
w="$SANDBOX/root/etc/systemd/system/multi-user.target.wants"
case "$1" in
  enable) mkdir -p "$w"; ln -sf "../$last" "$w/$last";;
  disable) rm -f "$w/$last";;
  is-enabled) if [ -L "$w/$last" ]; then echo enabled; else echo disabled; exit 1; fi;;
  show) printf 'LoadState=loaded\\nNeedDaemonReload=no\\n';;
esac
exit 0
`;
