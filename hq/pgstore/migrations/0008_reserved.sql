-- Reserved: helper branches merging with this one bring their own migration
-- 0008; the lead replaces this placeholder with it on merge.
SELECT 1;
