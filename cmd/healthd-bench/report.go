package main

import (
	"fmt"
	"slices"
	"strings"
)

// markdown is the human report: one table row per step, then the saturation
// point of each scenario and their ratio.
func markdown(rep Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## healthd-bench, %s (%s; %d validator(s); %d accounts; %s per step)\n\n",
		rep.Date, rep.Machine, rep.Validators, rep.Accounts, rep.Duration)
	fmt.Fprintf(&b, "Node settings: app.toml %q, config.toml %q, %s\n\n", rep.AppTOML, rep.ConfigTOML, rep.GoEnv)
	b.WriteString("| scenario | offered tx/s | sent tx/s | committed tx/s | items/s | p50 s | p95 s | p99 s | block interval s | rejected | failed | not committed | max mempool | max RSS MiB |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range rep.Steps {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %d | %d | %d | %d | %.0f |\n",
			s.Scenario, s.OfferedTxs, s.SentTxs, s.CommittedTxs, s.CommittedItems, s.LatencyP50, s.LatencyP95, s.LatencyP99,
			s.BlockInterval, s.Rejected, s.FailedInBlock, s.Lost, s.MaxMempool, s.MaxRSSMiB)
	}
	b.WriteString("\nSaturation (highest committed throughput over the ramp):\n\n")
	names := make([]string, 0, len(rep.Saturation))
	for name := range rep.Saturation {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := rep.Saturation[name]
		fmt.Fprintf(&b, "- %s: %.1f tx/s committed (%.1f items/s) at %.0f offered, p99 %.2f s; gas limit %d per tx\n",
			name, s.CommittedTxs, s.CommittedItems, s.OfferedTxs, s.LatencyP99, rep.Gas[name])
	}
	if bank, ok := rep.Saturation["bank-send"]; ok && bank.CommittedTxs > 0 {
		if rec, ok := rep.Saturation["create-record"]; ok {
			fmt.Fprintf(&b, "- create-record / bank-send: %.2f\n", rec.CommittedTxs/bank.CommittedTxs)
		}
	}
	return b.String()
}

// chart draws committed throughput and p99 latency against offered load, one
// line per scenario, as a self-contained SVG.
func chart(rep Report) string {
	const w, h, left, right, top, bottom = 760, 380, 70, 70, 30, 50
	byScenario := map[string][]Step{}
	var order []string
	maxX, maxY, maxL := 1.0, 1.0, 0.1
	for _, s := range rep.Steps {
		if _, ok := byScenario[s.Scenario]; !ok {
			order = append(order, s.Scenario)
		}
		byScenario[s.Scenario] = append(byScenario[s.Scenario], s)
		maxX, maxY, maxL = max(maxX, s.OfferedTxs), max(maxY, s.CommittedTxs, s.OfferedTxs), max(maxL, s.LatencyP99)
	}
	x := func(v float64) float64 { return left + v/maxX*(w-left-right) }
	y := func(v float64) float64 { return h - bottom - v/maxY*(h-top-bottom) }
	yl := func(v float64) float64 { return h - bottom - v/maxL*(h-top-bottom) }
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="18">committed tx/s (solid) and p99 latency (dashed) vs offered tx/s — %s</text>`+"\n", left, rep.Date)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, top, left, h-bottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", w-right, top, w-right, h-bottom)
	for i := 0; i <= 4; i++ {
		f := float64(i) / 4
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%.0f</text>`+"\n", x(f*maxX), h-bottom+16, f*maxX)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">%.0f</text>`+"\n", left-6, y(f*maxY)+4, f*maxY)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f">%.1fs</text>`+"\n", w-right+6, yl(f*maxL)+4, f*maxL)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">offered tx/s</text>`+"\n", (w+left-right)/2, h-12)
	// the ideal: committed = offered
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999" stroke-dasharray="2,4"/>`+"\n", x(0), y(0), x(min(maxX, maxY)), y(min(maxX, maxY)))
	for i, name := range order {
		c := colors[i%len(colors)]
		var tp, lat []string
		for _, s := range byScenario[name] {
			tp = append(tp, fmt.Sprintf("%.1f,%.1f", x(s.OfferedTxs), y(s.CommittedTxs)))
			lat = append(lat, fmt.Sprintf("%.1f,%.1f", x(s.OfferedTxs), yl(s.LatencyP99)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(tp, " "))
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="6,4" points="%s"/>`+"\n", c, strings.Join(lat, " "))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", left+10, top+16+16*i, c, name)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
