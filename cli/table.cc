#include "cli/table.h"

#include <algorithm>

namespace syncd {
namespace {
// Display width in characters: UTF-8 continuation bytes do not count.
size_t width(const std::string& s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

std::string cut(const std::string& s, size_t max_chars) {
  if (width(s) <= max_chars) return s;
  size_t chars = 0;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80 && ++chars > max_chars - 1) break;
  }
  return s.substr(0, i) + "…";
}
}  // namespace

std::string format_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows, size_t max_cell_chars) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back(headers);
  for (const auto& row : rows) {
    std::vector<std::string> cut_row;
    for (const auto& cell : row) cut_row.push_back(cut(cell, max_cell_chars));
    cells.push_back(std::move(cut_row));
  }
  std::vector<size_t> widths(headers.size(), 0);
  for (const auto& row : cells) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], width(row[c]));
    }
  }
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - width(row[c]) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace syncd
