#include "common/text_escape.hpp"

namespace joulebench {

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string md_escape(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (const char c : s) {
        switch (c) {
            case '\\':
            case '|':
            case '*':
            case '_':
            case '`':
            case '[':
            case ']':
            case '<':
            case '>':
            case '#':
                o += '\\';
                o += c;
                break;
            case '\n':
            case '\r':
                o += ' ';
                break;
            default:
                o += c;
        }
    }
    return o;
}

std::string tex_escape(const std::string& s) {
    std::string out;
    for (const char c : s) {
        switch (c) {
            case '\\':
                out += "\\textbackslash{}";
                break;
            case '&':
            case '%':
            case '$':
            case '#':
            case '_':
            case '{':
            case '}':
                out += '\\';
                out += c;
                break;
            case '~':
                out += "\\textasciitilde{}";
                break;
            case '^':
                out += "\\textasciicircum{}";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace joulebench
