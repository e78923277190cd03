/** Shared option help (kept apart so that `--help` loads nothing else). */
export const FLEET_HELP = `Options (apply, check, remove, reboot, verify, play):
  -i, --inventory FILE        Ansible YAML inventory (required)
  -l, --limit PATTERN         narrow the robots: names, groups, globs, a:b, a:!b, a:&b, ~regex
  -f, --forks N               robots at once (default 50)
      --serial SPEC           batches: N, N%, or a list like 1,25% (canary, then quarters)
      --max-fail-percent P    stop before the next batch when more than P% of a batch failed
      --interface NAME|auto   override masquerade_interface (default: inventory, else auto)
      --persistence M         override masquerade_persistence: systemd, rc.local or auto
  -C, --check                 change nothing; report what would change
  -D, --diff                  show diffs of files and rules
      --reboot-timeout S      seconds a robot may take to come back (default 600)
      --json                  print one JSON document instead of the recap
      --junit FILE, --html FILE   write a JUnit XML / self-contained HTML report
      --ssh-config FILE       OpenSSH client config (default ~/.ssh/config)
      --known-hosts FILE      known_hosts to verify host keys against
      --host-key-checking M   strict (default), accept-new, or off
      --connect-timeout S     SSH connect timeout (default 10)
      --command-timeout S     timeout of each remote command (default 120)
  -K, --ask-become-pass       ask for the sudo password (or set FLEETMASQ_BECOME_PASSWORD)
Exit codes: 0 ok, 2 a robot failed or is non-compliant, 4 unreachable robots and none failed, 5 invalid input, 130 interrupted.
`;
