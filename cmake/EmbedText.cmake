# SPDX-License-Identifier: MIT
# Script mode: writes OUTPUT, a C++ file defining `const char* const SYMBOL` with INPUT's text.
file(READ ${INPUT} content)
file(WRITE ${OUTPUT} "// Generated from ${INPUT}: do not edit.\nnamespace overfeat {\nextern const char* const ${SYMBOL};\nconst char* const ${SYMBOL} = R\"overfeat_embed(${content})overfeat_embed\";\n}\n")
