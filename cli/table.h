#pragma once
// Plain-text tables for syncctl's human output: left-aligned columns, long cells cut.
#include <string>
#include <vector>

namespace syncd {

std::string format_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows,
                         size_t max_cell_chars = 60);

}  // namespace syncd
