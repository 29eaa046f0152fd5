/// Aligned columns for people (`log`, `blame`, `status`): each column padded
/// to its widest cell in terminal columns (wide characters count two), the
/// last one not padded; cells may carry a colour, shown
/// only on a terminal (see ``Terminal``).
struct TextTable {
    struct Cell {
        var text: String
        var style: Terminal.Style?
        init(_ text: String, _ style: Terminal.Style? = nil) { self.text = text; self.style = style }
    }

    var header: [String]
    var rows: [[Cell]] = []

    init(_ header: String...) { self.header = header }

    mutating func add(_ cells: Cell...) { rows.append(cells) }

    func lines() -> [String] {
        var widths = header.map { Terminal.width($0) }
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], Terminal.width(cell.text)) }
        }
        func line(_ cells: [Cell]) -> String {
            var out = ""
            for (i, cell) in cells.enumerated() {
                let last = i == cells.count - 1
                let pad = last ? "" : String(repeating: " ", count: max(0, widths[i] - Terminal.width(cell.text)) + 2)
                out += Terminal.paint(cell.text, cell.style) + pad
            }
            return out
        }
        return [line(header.map { Cell($0, .bold) })] + rows.map(line)
    }
}
