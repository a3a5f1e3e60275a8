#!/bin/sh
# Ops, the parameter store and the modules on top are written on the public headers only:
# no file outside the engine may include src/internal.h or reach into another directory
# ("../"), so a user's op or layer is defined exactly like a built-in one. A module may
# keep a header of its own next to its sources (src/optim/check.h); it is checked too.
root="$1"
status=0
for f in $(find "$root/ops" "$root/src/params.c" "$root/src/nn" "$root/src/optim" \
               "$root/src/data" "$root/src/io" "$root/src/dist" "$root/examples" \
               -name '*.[ch]' 2>/dev/null); do
    bad=$(grep -n '#include "' "$f" | grep -v '#include "nabla\(/[a-z_]*\)\?\.h"' |
          grep -e '"internal\.h"' -e '\.\./' -e '/')
    if [ -n "$bad" ]; then
        echo "$f includes a private header:"
        echo "$bad"
        status=1
    fi
done
[ "$status" = 0 ] && echo "every op, module and example includes only public headers"
exit $status
