"""Ad-tech outputs: IAB Audience Taxonomy segments, OpenRTB user data, segment tables and audiences."""
