// SPDX-License-Identifier: MIT
// libFuzzer target: the one-shot store reader (OneShotStore::load, docs/oneshot-store.md). A
// store that loads is also queried (recognition of a unit query) as a caller would.
#include <cstdint>
#include <vector>

#include "fuzz_support.hpp"
#include "overfeat/oneshot.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = overfeat::fuzz::write_input("store.json", data, size);
  overfeat::fuzz::expect_only_errors([&] {
    const overfeat::OneShotStore store = overfeat::OneShotStore::load(file);
    if (store.dims() > 0 && store.dims() <= (1 << 16)) {
      std::vector<float> query(store.dims(), 0.0f);
      query[0] = 1;
      (void)overfeat::recognize(store, query);
    }
  });
  return 0;
}
