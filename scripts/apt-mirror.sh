# Sourced by the scripts that debootstrap a Debian root (scripts/build-test-guest.sh,
# scripts/build-debian-base.sh, containers/debian-cpu/build.sh): find_mirror prints the Debian
# mirror of this machine's apt sources for $suite.
#
# This machine's Debian mirror: a one-line `deb URL SUITE ...` of sources.list(.d/*.list), or a
# deb822 stanza (sources.list.d/*.sources) with Types: deb and a Suites entry equal to the
# suite's family (bookworm, not bookworm-security). Disabled files (other suffixes) are skipped.
find_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case "$f" in
            *.list)
                awk -v suite="$suite" '$1 == "deb" {
                    i = 2
                    if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                    if ($(i + 1) == suite) { print $i; exit }
                }' "$f" ;;
            *.sources)
                # deb822: stanzas separated by blank lines; a final stanza is checked at END.
                awk -v suite="$suite" '
                    function check(   n, s, k, u) {
                        if (uris != "" && types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no") {
                            n = split(suites, s, /[ \t]+/)
                            for (k = 1; k <= n; k++) if (s[k] == suite) { split(uris, u, /[ \t]+/); print u[1]; done = 1; exit }
                        }
                        types = ""; uris = ""; suites = ""; enabled = ""
                    }
                    /^[ \t]*$/ { check(); next }
                    /^#/ { next }
                    {
                        key = tolower($1); sub(/:$/, "", key)
                        val = $0; sub(/^[^:]*:[ \t]*/, "", val)
                        if (key == "types") types = val
                        else if (key == "uris") uris = val
                        else if (key == "suites") suites = val
                        else if (key == "enabled") enabled = val
                    }
                    END { if (!done) check() }' "$f" ;;
        esac
    done | head -n 1
}
