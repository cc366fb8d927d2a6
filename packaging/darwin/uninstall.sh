#!/bin/sh
# Removes farmwatch-agent from a Mac (run as root, e.g. from an MDM script at
# the end of the onboarding period). --purge also deletes the install config,
# the device identity and the spool.
set -e
launchctl bootout system/com.farmwatch.agent 2>/dev/null || true
rm -f /Library/LaunchDaemons/com.farmwatch.agent.plist /usr/local/bin/farmwatch-agent /Library/Logs/farmwatch-agent.log
rm -f /usr/local/share/man/man1/farmwatch-agent*.1 /usr/local/share/zsh/site-functions/_farmwatch-agent \
	/usr/local/share/bash-completion/completions/farmwatch-agent /usr/local/share/fish/vendor_completions.d/farmwatch-agent.fish
pkgutil --forget com.farmwatch.agent >/dev/null 2>&1 || true
if [ "$1" = "--purge" ]; then
	rm -rf "/Library/Application Support/farmwatch"
fi
echo "farmwatch-agent removed"
