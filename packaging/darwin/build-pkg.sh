#!/bin/sh
# Builds farmwatch-agent-VERSION.pkg on a Mac from the darwin archive that
# `make package` writes (it holds this script, the binary and the plist):
#
#   tar xzf farmwatch-agent_VERSION_darwin_arm64.tar.gz
#   cd farmwatch-agent_VERSION_darwin_arm64 && ./build-pkg.sh VERSION
#
# Universal package: pass a second binary and lipo joins them:
#   ./build-pkg.sh VERSION ../farmwatch-agent_VERSION_darwin_amd64/farmwatch-agent
#
# Signing: set PKG_SIGN_IDENTITY to a "Developer ID Installer: ..." identity;
# sign the binary beforehand (codesign --options runtime) and notarize the
# result with `xcrun notarytool submit --wait` and `xcrun stapler staple`.
set -eu

version="${1:?usage: build-pkg.sh VERSION [OTHER-ARCH-BINARY]}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

root="$work/root"
install -d -m 0755 "$root/usr/local/bin" "$root/Library/LaunchDaemons"
if [ $# -ge 2 ]; then
	lipo -create -output "$root/usr/local/bin/farmwatch-agent" "$here/farmwatch-agent" "$2"
else
	cp "$here/farmwatch-agent" "$root/usr/local/bin/farmwatch-agent"
fi
chmod 0755 "$root/usr/local/bin/farmwatch-agent"
cp "$here/com.farmwatch.agent.plist" "$root/Library/LaunchDaemons/"
chmod 0644 "$root/Library/LaunchDaemons/com.farmwatch.agent.plist"

# Man pages and shell completions, where Homebrew's man, zsh, bash-completion and fish look.
share="$root/usr/local/share"
install -d -m 0755 "$share/man/man1" "$share/zsh/site-functions" "$share/bash-completion/completions" \
	"$share/fish/vendor_completions.d"
install -m 0644 "$here"/man/man1/*.1 "$share/man/man1/"
install -m 0644 "$here/completions/_farmwatch-agent" "$share/zsh/site-functions/"
install -m 0644 "$here/completions/farmwatch-agent.bash" "$share/bash-completion/completions/farmwatch-agent"
install -m 0644 "$here/completions/farmwatch-agent.fish" "$share/fish/vendor_completions.d/"

install -d "$work/scripts"
cp "$here/scripts/preinstall" "$here/scripts/postinstall" "$work/scripts/"
chmod 0755 "$work/scripts/"*

pkgbuild --root "$root" --identifier com.farmwatch.agent --version "$version" \
	--scripts "$work/scripts" --ownership recommended "$work/farmwatch-agent-component.pkg"

if [ -n "${PKG_SIGN_IDENTITY:-}" ]; then
	productbuild --package "$work/farmwatch-agent-component.pkg" --identifier com.farmwatch.agent \
		--version "$version" --sign "$PKG_SIGN_IDENTITY" "farmwatch-agent-$version.pkg"
else
	productbuild --package "$work/farmwatch-agent-component.pkg" --identifier com.farmwatch.agent \
		--version "$version" "farmwatch-agent-$version.pkg"
fi
echo "wrote farmwatch-agent-$version.pkg"
