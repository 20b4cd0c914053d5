import sys

from hkcnews.serve import main

sys.exit(main())
