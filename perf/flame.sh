#!/bin/sh
# Renders a folded-stack file (perf/record.sh output) as a self-contained
# SVG flame graph, written from scratch in awk (no downloads).
#   perf/flame.sh perf/out/stacks.folded > flame.svg
set -eu
awk '
{ n = $NF; $NF = ""; sub(/ $/, ""); total += n; stacks[NR] = $0; counts[NR] = n }
END {
        W = 1200; H = 16; depthmax = 0
        # Merge stacks into a tree keyed by path prefixes.
        for (i = 1; i <= NR; i++) {
                k = split(stacks[i], f, ";"); path = ""
                for (d = 1; d <= k; d++) {
                        path = path ";" f[d]; w[path] += counts[i]; name[path] = f[d]; depth[path] = d
                        if (!(path in seen)) { seen[path] = 1; order[++np] = path }
                        if (d > depthmax) depthmax = d
                }
        }
        printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"monospace\" font-size=\"11\">\n", W, (depthmax + 1) * H
        # x offsets: children laid out in first-seen order under their parent.
        for (j = 1; j <= np; j++) {
                p = order[j]; parent = p; sub(/;[^;]*$/, "", parent)
                x[p] = (parent == "") ? next_root : next_child[parent]
                if (parent == "") next_root += w[p]; else { if (!(parent in next_child)) next_child[parent] = x[parent]; x[p] = next_child[parent]; next_child[parent] += w[p] }
                next_child[p] = x[p]
                px = x[p] * W / total; pw = w[p] * W / total
                if (pw < 0.5) continue
                y = (depthmax - depth[p]) * H
                printf "<g><title>%s (%d samples, %.1f%%)</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"rgb(%d,%d,60)\" stroke=\"white\"/>", name[p], w[p], 100 * w[p] / total, px, y, pw, H - 1, 200 + (depth[p] * 37) % 55, 80 + (length(name[p]) * 13) % 120
                if (pw > 40) printf "<text x=\"%.1f\" y=\"%d\">%s</text>", px + 2, y + 11, substr(name[p], 1, int(pw / 7))
                printf "</g>\n"
        }
        print "</svg>"
}' "$1"
