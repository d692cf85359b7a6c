/** A horizontal bar chart as plain SVG text: one bar per mode, its ratio to the floor. */
export interface Bar {
  label: string
  value: number
  /** Second, thinner bar (e.g. the CPU-based ratio); NaN = none. */
  secondary: number
  color: string
}

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function barChart(o: {
  title: string
  subtitle: string
  bars: Bar[]
  /** Vertical guide lines, e.g. the targets. */
  guides: Array<{ value: number; label: string }>
  legend: Array<{ color: string; label: string }>
}): string {
  const labelW = 300
  const plotW = 420
  const rowH = 26
  const top = 76
  const max = Math.max(
    1.2,
    ...o.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)),
    ...o.bars.map((b) => (Number.isFinite(b.secondary) ? b.secondary : 0)),
  )
  const scale = (v: number) => (v / max) * plotW
  const height = top + o.bars.length * rowH + 56
  const width = labelW + plotW + 70
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${esc(o.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
    `<text x="12" y="42" fill="#555">${esc(o.subtitle)}</text>`,
  ]
  o.bars.forEach((bar, i) => {
    const y = top + i * rowH
    out.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(bar.label)}</text>`)
    if (!Number.isFinite(bar.value)) {
      out.push(`<text x="${labelW + 4}" y="${y + 15}" fill="#999">not measured</text>`)
      return
    }
    out.push(
      `<rect x="${labelW}" y="${y + 3}" width="${scale(bar.value).toFixed(1)}" height="14" fill="${bar.color}"/>`,
    )
    if (Number.isFinite(bar.secondary))
      out.push(
        `<rect x="${labelW}" y="${y + 18}" width="${scale(bar.secondary).toFixed(1)}" height="4" fill="${bar.color}" opacity="0.45"/>`,
      )
    out.push(`<text x="${labelW + scale(bar.value) + 5}" y="${y + 15}">${bar.value.toFixed(2)}</text>`)
  })
  const bottom = top + o.bars.length * rowH
  o.guides.forEach((guide, i) => {
    const x = labelW + scale(guide.value)
    // Staggered: close guides (0.85, 0.92) would print their labels over each other.
    const labelY = top - (i % 2 ? 18 : 6)
    out.push(
      `<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${bottom}" stroke="#c00" stroke-dasharray="4 3"/>`,
    )
    out.push(
      `<text x="${x}" y="${labelY}" text-anchor="middle" fill="#c00" font-size="11">${esc(guide.label)}</text>`,
    )
  })
  out.push(`<line x1="${labelW}" y1="${top - 4}" x2="${labelW}" y2="${bottom}" stroke="#333"/>`)
  let lx = 12
  for (const item of o.legend) {
    out.push(`<rect x="${lx}" y="${bottom + 22}" width="12" height="12" fill="${item.color}"/>`)
    out.push(`<text x="${lx + 16}" y="${bottom + 32}">${esc(item.label)}</text>`)
    lx += 24 + item.label.length * 6.5
  }
  out.push(
    `<text x="12" y="${bottom + 50}" fill="#555" font-size="11">thick bar: req/s ÷ req/s of the floor measured around it (median over rounds); thin bar: the same by server CPU µs per request</text>`,
  )
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
