// cpp_headers.cpp — both public headers compile as C++ (g++ -std=c++17
// -Wall -Wextra -Werror -pedantic) and link against libhuddle.so: a C++
// host (or FreeSWITCH-style C++ module loader) can use them unchanged.
#include "huddle_host.h"
#include "huddle.h"

#include <cstdio>
#include <cstring>
#include <type_traits>

// The interface table is usable from C++ and its fields have the declared
// function types.
static_assert(std::is_same<decltype(huddle_module_interface.load),
                           huddle_status (*)(const huddle_host *, const char *,
                                             huddle_module **)>::value,
              "load has the documented signature");
static_assert(sizeof(huddle_status) == sizeof(uint32_t), "status is 32 bits");
static_assert(HUDDLE_STATUS_NULL_ARGUMENT == 1000, "errors start at 1000");
static_assert(HUDDLE_VERSION_NUMBER ==
                  ((HUDDLE_VERSION_MAJOR << 16) | (HUDDLE_VERSION_MINOR << 8) |
                   HUDDLE_VERSION_PATCH),
              "version number matches its parts");

int main() {
    const huddle_interface *table = &huddle_module_interface;
    if (table->abi_version != HUDDLE_HOST_ABI_VERSION) {
        std::printf("FAIL abi_version %u\n", table->abi_version);
        return 1;
    }
    if (std::strcmp(table->version(), HUDDLE_VERSION_STRING) != 0 ||
        std::strcmp(huddle_version(), HUDDLE_VERSION_STRING) != 0) {
        std::printf("FAIL version %s, header says %s\n", huddle_version(),
                    HUDDLE_VERSION_STRING);
        return 1;
    }
    huddle_module *module = nullptr;
    if (huddle_module_load(nullptr, "x", &module) != HUDDLE_STATUS_NULL_ARGUMENT ||
        table->shutdown(nullptr) != HUDDLE_STATUS_NULL_ARGUMENT) {
        std::printf("FAIL NULL arguments\n");
        return 1;
    }
    std::printf("PASS cpp_headers %s\n", huddle_strerror(HUDDLE_STATUS_OK));
    return 0;
}
